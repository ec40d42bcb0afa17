"""kafka-eos: a model-checked specification of Kafka's exactly-once semantics.

The package is split into layers, one top-level folder each (see README "Architecture"):
``kafka_eos.checker`` (generic model checker), ``kafka_eos.protocol`` (Kafka rules shared by
the model and the reference), ``kafka_eos.model``, ``kafka_eos.reference`` and this package's
``cli``.
"""

__version__ = "0.1.0"

from .compiled.finder import install as _install_compiled_finder

# Before any layer is imported: a compiled build of the layers runs only when it matches
# their sources (see kafka_eos/compiled/finder.py).
_install_compiled_finder()
