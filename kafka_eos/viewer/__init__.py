"""The trace viewer: any trace the project writes (a checker counterexample as ITF, a replay with
its first disagreement, a history recorded from real clients) as one self-contained HTML page.

:mod:`.diagram` is the data the page draws (lanes, arrows, steps, partition logs, highlights),
built without any HTML by :mod:`.from_itf` and :mod:`.from_history` (with :mod:`.timeline` for
the partition logs); :mod:`.adapters` is the one place that knows how the model's ITF variables,
action labels and messages are shaped; :mod:`.spec_index` reads spec/SPEC.md for the action
each step is and the property a trace breaks; :mod:`.page` embeds a diagram as JSON in the
handwritten page (viewer.css, viewer.js). The viewer reads what checker/ and protocol/ write;
of the model it imports only the names of its trace variables, and nothing of the reference.
"""
