"""Named Kafka checks (contract C): spec/configs/*.yaml loaded into a ready model.

A configuration file says what to check — protocol knobs, fault budgets, the workload, which
properties, and optional checker bounds — and nothing else. Loading is strict: an unknown key,
a value of the wrong type, an impossible bound or a duplicated key is an
:class:`~kafka_eos.errors.InputError` with one line naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from kafka_eos.errors import InputError, shown
from kafka_eos.protocol.epochs import MAX_PRODUCER_EPOCH
from kafka_eos.protocol.knobs import KNOBS, make_knobs

from .kafka import KafkaEosModel
from .liveness import TEMPORAL_PROPERTIES, KafkaEosLivenessModel
from .params import (
    CTP,
    IDEMPOTENT,
    PLAIN,
    PRODUCER_KINDS,
    READ_COMMITTED,
    READ_UNCOMMITTED,
    TRANSACTIONAL,
    Faults,
    Knobs,
    ProducerSpec,
    TransactionSpec,
    Workload,
)
from .properties import ALL_PROPERTIES

DEFAULT_CONFIG = "default"
_TOP_KEYS = (
    "description", "knobs", "faults", "workload", "properties", "temporal_properties", "bounds"
)
_BOUND_KEYS = {"max_states": int, "max_depth": int, "time_budget": float}


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """One named check: the model to explore and how."""

    name: str
    description: str
    model: KafkaEosModel
    #: checker bounds (max_states / max_depth / time_budget), empty when unbounded
    bounds: dict[str, Any]
    #: every protocol knob with its value (defaults filled in)
    knobs: dict[str, Any]
    faults: dict[str, int]
    properties: tuple[str, ...]
    path: str
    #: the configuration as written (parsed YAML): a trace's #meta carries it, and
    #: build_check_config rebuilds this check from it
    source: dict[str, Any]
    #: the temporal properties checked under fairness (model/liveness.py), empty for none
    temporal_properties: tuple[str, ...] = ()


def list_check_configs() -> list[str]:
    """Names of the configurations shipped in spec/configs/, sorted."""
    folder = resources.files("kafka_eos.spec") / "configs"
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def config_path(name_or_path: str | Path) -> Path:
    """The file of a shipped configuration name, or the given path to a .yaml file."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise InputError(f"no configuration file {text}")
        return path
    candidate = resources.files("kafka_eos.spec") / "configs" / f"{text}.yaml"
    if not candidate.is_file():
        known = ", ".join(list_check_configs())
        raise InputError(f"no configuration named {shown(text)}; known: {known}")
    return Path(str(candidate))


def load_check_config(name_or_path: str | Path) -> CheckConfig:
    """Load and validate a configuration by name (spec/configs/NAME.yaml) or path."""
    path = config_path(name_or_path)
    where = str(path)
    raw = _parse_yaml(_read_config_text(path, where), where)
    return build_check_config(raw, name=path.stem, where=where)


def build_check_config(raw: object, *, name: str, where: str) -> CheckConfig:
    """Validate an already-parsed configuration mapping (``where`` names it in errors)."""
    top = _mapping(raw, where, "the configuration")
    _only_keys(top, _TOP_KEYS, where, "")
    description = _typed(top.get("description", ""), str, where, "description")
    knobs = _knobs(top.get("knobs", {}), where)
    faults = _faults(top.get("faults", {}), where)
    workload = _workload(top.get("workload"), knobs, where)
    checked = _properties(top.get("properties"), where)
    bounds = _bounds(top.get("bounds", {}), where)
    temporal = _temporal_properties(top.get("temporal_properties"), where)
    model = (
        KafkaEosLivenessModel(
            temporal=temporal, knobs=knobs, faults=faults, workload=workload, checked=checked
        )
        if temporal
        else KafkaEosModel(knobs=knobs, faults=faults, workload=workload, checked=checked)
    )
    return CheckConfig(
        name=name,
        description=description,
        model=model,
        bounds=bounds,
        knobs=dataclasses.asdict(knobs),
        faults=dataclasses.asdict(faults),
        properties=checked,
        path=where,
        source=top,
        temporal_properties=temporal,
    )


# ---------------------------------------------------------------------- YAML
#: The most values a configuration may hold once its aliases are expanded. A real check holds a
#: few dozen; a "billion laughs" file of a few hundred bytes holds billions.
MAX_YAML_VALUES = 10_000


class _StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last), a
    key that is not a scalar, and a document whose aliases expand past MAX_YAML_VALUES."""

    def compose_document(self) -> Any:
        document = super().compose_document()
        if document is not None:
            _refuse_alias_bombs(document)
        return document


def _refuse_alias_bombs(root: yaml.Node) -> None:
    """Count the values ``root`` expands to, each node once (aliases share nodes), so the
    count costs as little as the file, whatever its expansion would."""
    expanded: dict[int, int] = {}
    # Post-order without recursion: a node is counted once its children are.
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, children_done = pending.pop()
        if id(node) in expanded:
            continue
        children = _children(node)
        if not children_done and any(id(child) not in expanded for child in children):
            pending.append((node, True))
            pending.extend((child, False) for child in children if id(child) not in expanded)
            continue
        expanded[id(node)] = 1 + sum(expanded.get(id(child), 1) for child in children)
        if expanded[id(node)] > MAX_YAML_VALUES:
            line = node.start_mark.line + 1
            raise _Refused(
                f"the value at line {line} expands to more than {MAX_YAML_VALUES:,} values "
                "through its aliases; write the values out"
            )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Refused(f"a mapping key must be a name, not a {key_node.id} (line {line})")
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _Refused(f"duplicate key {shown(key)} (line {line})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


class _Refused(Exception):
    """YAML the loader refuses (its message names the line)."""


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _read_config_text(path: Path, where: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {where}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{where}: not UTF-8 text (line {line}); is it a YAML file?") from None


def _parse_yaml(text: str, where: str) -> object:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except _Refused as exc:
        raise InputError(f"{where}: {exc}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to be a configuration") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4,300)
        raise InputError(f"{where}: a value PyYAML cannot read ({shown(str(exc))[1:-1]})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error as one line: the problem and its line."""
    if isinstance(exc, yaml.reader.ReaderError):  # a control character, e.g. a binary file
        return f"not a YAML text file (character {exc.character!r} at byte {exc.position})"
    mark = getattr(exc, "problem_mark", None)
    at = f" (line {mark.line + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "not valid YAML"
    return f"{shown(problem, limit=160)[1:-1]}{at}"


# ---------------------------------------------------------------------- validation helpers
def _mapping(value: object, where: str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}: {what} must be a mapping, got {type(value).__name__}")
    return value


def _only_keys(mapping: dict[str, Any], allowed: tuple[str, ...], where: str, prefix: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise InputError(
                f"{where}: unknown key {prefix}{shown(key)}; allowed: {', '.join(allowed)}"
            )


def _typed(value: object, kind: type, where: str, key: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise InputError(f"{where}: {key} must be {_type_name(kind)}, got {shown(value)}")
    return value


def _type_name(kind: type) -> str:
    return {int: "an integer", bool: "true or false", str: "a string", float: "a number"}.get(
        kind, kind.__name__
    )


def _at_least(value: int, minimum: int, where: str, key: str) -> int:
    if value < minimum:
        raise InputError(f"{where}: {key} must be at least {minimum}, got {shown(value)}")
    return value


def _knobs(raw: object, where: str) -> Knobs:
    """The ``knobs:`` mapping, each value checked against its declaration (protocol/knobs.py)."""
    mapping = _mapping(raw, where, "knobs")
    _only_keys(mapping, tuple(KNOBS), where, "knobs.")
    return make_knobs(mapping, where=f"{where}: knobs.")


def _faults(raw: object, where: str) -> Faults:
    mapping = _mapping(raw, where, "faults")
    names = tuple(f.name for f in dataclasses.fields(Faults))
    _only_keys(mapping, names, where, "faults.")
    values = {
        name: _at_least(
            _typed(mapping[name], int, where, f"faults.{name}"), 0, where, f"faults.{name}"
        )
        for name in names
        if name in mapping
    }
    return Faults(**values)


_PRODUCER_KEYS = ("kind", "transactional_id", "batches", "transactions")
_WORKLOAD_KEYS = ("partitions", "replicas", "producers", "consumer", "ctp", "max_producer_epoch")


def _workload(raw: object, knobs: Knobs, where: str) -> Workload:
    if raw is None:
        raise InputError(f"{where}: missing key 'workload' (partitions and producers)")
    mapping = _mapping(raw, where, "workload")
    _only_keys(mapping, _WORKLOAD_KEYS, where, "workload.")
    partitions = _at_least(
        _typed(mapping.get("partitions", 1), int, where, "workload.partitions"),
        1,
        where,
        "workload.partitions",
    )
    replicas = _typed(mapping.get("replicas", 1), int, where, "workload.replicas")
    if not 1 <= replicas <= 3:
        raise InputError(f"{where}: workload.replicas must be 1, 2 or 3, got {shown(replicas)}")
    if knobs.min_insync_replicas > replicas:
        raise InputError(
            f"{where}: knobs.min_insync_replicas {knobs.min_insync_replicas} exceeds "
            f"workload.replicas {replicas} (every acks=all write would be refused)"
        )
    max_epoch = _max_producer_epoch(mapping, where)
    consumer = mapping.get("consumer")
    if consumer is not None and consumer not in (READ_COMMITTED, READ_UNCOMMITTED):
        raise InputError(
            f"{where}: workload.consumer must be {READ_COMMITTED}, {READ_UNCOMMITTED} or null, "
            f"got {shown(consumer)}"
        )
    ctp = _mapping(mapping.get("ctp", {}), where, "workload.ctp")
    _only_keys(ctp, ("input", "output"), where, "workload.ctp.")
    ctp_input = _at_least(
        _typed(ctp.get("input", 0), int, where, "workload.ctp.input"),
        0,
        where,
        "workload.ctp.input",
    )
    ctp_output = _typed(ctp.get("output", 0), int, where, "workload.ctp.output")
    _partition(ctp_output, partitions, where, "workload.ctp.output")
    raw_producers = mapping.get("producers")
    if not isinstance(raw_producers, list) or not raw_producers:
        raise InputError(f"{where}: workload.producers must be a non-empty list")
    producers = tuple(
        _producer(item, index, partitions, knobs, where) for index, item in enumerate(raw_producers)
    )
    if any(p.kind == CTP for p in producers) and ctp_input < 1:
        raise InputError(f"{where}: workload.ctp.input must be at least 1 with a ctp producer")
    return Workload(
        partitions=partitions,
        producers=producers,
        consumer=consumer,
        ctp_input=ctp_input,
        ctp_output=ctp_output,
        replicas=replicas,
        max_producer_epoch=max_epoch,
    )


def _max_producer_epoch(mapping: dict[str, Any], where: str) -> int:
    key = "workload.max_producer_epoch"
    value: int = _typed(mapping.get("max_producer_epoch", MAX_PRODUCER_EPOCH), int, where, key)
    if not 1 <= value <= MAX_PRODUCER_EPOCH:
        raise InputError(f"{where}: {key} must be in 1..{MAX_PRODUCER_EPOCH}, got {shown(value)}")
    return value


def _partition(value: int, partitions: int, where: str, key: str) -> int:
    if not 0 <= value < partitions:
        raise InputError(
            f"{where}: {key} must be a partition in 0..{partitions - 1}, got {shown(value)}"
        )
    return value


def _producer(raw: object, index: int, partitions: int, knobs: Knobs, where: str) -> ProducerSpec:
    key = f"workload.producers[{index}]"
    mapping = _mapping(raw, where, key)
    _only_keys(mapping, _PRODUCER_KEYS, where, f"{key}.")
    kind = mapping.get("kind")
    if kind not in PRODUCER_KINDS:
        raise InputError(
            f"{where}: {key}.kind must be one of {', '.join(PRODUCER_KINDS)}, got {shown(kind)}"
        )
    if kind in (IDEMPOTENT, PLAIN):
        if "transactions" in mapping or "transactional_id" in mapping:
            raise InputError(f"{where}: {key}: a {kind} producer has batches, not transactions")
        batches = mapping.get("batches")
        if not isinstance(batches, list) or not batches:
            raise InputError(f"{where}: {key}.batches must be a non-empty list of partitions")
        return ProducerSpec(
            kind=kind,
            batches=tuple(
                _partition(
                    _typed(b, int, where, f"{key}.batches"), partitions, where, f"{key}.batches"
                )
                for b in batches
            ),
        )
    if not knobs.idempotence:
        raise InputError(
            f"{where}: {key}: a {kind} producer needs knobs.idempotence: true "
            "(Kafka refuses transactions without idempotence)"
        )
    if "batches" in mapping:
        raise InputError(f"{where}: {key}: a {kind} producer has transactions, not batches")
    tid = _typed(mapping.get("transactional_id", ""), str, where, f"{key}.transactional_id")
    if not tid:
        raise InputError(f"{where}: {key}.transactional_id must be a non-empty string")
    if kind == CTP:
        if "transactions" in mapping:
            raise InputError(
                f"{where}: {key}: a ctp producer's transactions come from workload.ctp"
            )
        return ProducerSpec(kind=kind, transactional_id=tid)
    raw_txns = mapping.get("transactions")
    if not isinstance(raw_txns, list) or not raw_txns:
        raise InputError(f"{where}: {key}.transactions must be a non-empty list")
    transactions = []
    for t, item in enumerate(raw_txns):
        txn_key = f"{key}.transactions[{t}]"
        txn = _mapping(item, where, txn_key)
        _only_keys(txn, ("partitions", "commit"), where, f"{txn_key}.")
        parts = txn.get("partitions")
        if not isinstance(parts, list) or not parts:
            raise InputError(f"{where}: {txn_key}.partitions must be a non-empty list")
        checked = tuple(
            _partition(
                _typed(p, int, where, f"{txn_key}.partitions"),
                partitions,
                where,
                f"{txn_key}.partitions",
            )
            for p in parts
        )
        commit = _typed(txn.get("commit", True), bool, where, f"{txn_key}.commit")
        transactions.append(TransactionSpec(partitions=checked, commit=commit))
    return ProducerSpec(kind=TRANSACTIONAL, transactional_id=tid, transactions=tuple(transactions))


def _properties(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ALL_PROPERTIES
    return _names(raw, where, key="properties", known=ALL_PROPERTIES, what="property")


def _temporal_properties(raw: object, where: str) -> tuple[str, ...]:
    """The listed temporal properties (none when the key is absent: they cost a graph)."""
    if raw is None:
        return ()
    return _names(
        raw, where, key="temporal_properties", known=TEMPORAL_PROPERTIES, what="temporal property"
    )


def _names(
    raw: object, where: str, *, key: str, known: tuple[str, ...], what: str
) -> tuple[str, ...]:
    """A non-empty list of names from ``known``, returned in ``known``'s order."""
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}: {key} must be a non-empty list of {what} names")
    for name in raw:
        if name not in known:
            raise InputError(
                f"{where}: unknown {what} {shown(name)} in {key}; known: {', '.join(known)}"
            )
    return tuple(name for name in known if name in raw)


def _bounds(raw: object, where: str) -> dict[str, Any]:
    mapping = _mapping(raw, where, "bounds")
    _only_keys(mapping, tuple(_BOUND_KEYS), where, "bounds.")
    bounds: dict[str, Any] = {}
    for key, kind in _BOUND_KEYS.items():
        if key in mapping:
            value = _typed(mapping[key], kind, where, f"bounds.{key}")
            if value <= 0:
                raise InputError(f"{where}: bounds.{key} must be positive, got {shown(value)}")
            bounds[key] = value
    return bounds
