"""The trace viewer: any trace the project writes (a checker counterexample as ITF, a replay with
its first disagreement, a history recorded from real clients) as one self-contained HTML page.

:mod:`.diagram` is the data the page draws (lanes, arrows, steps, partition logs, highlights),
built without any HTML by :mod:`.from_itf` and :mod:`.from_history`; :mod:`.adapters` is the one
place that knows how the model's ITF variables and action labels are shaped; :mod:`.spec_index`
reads spec/SPEC.md for the action each step is and the property a trace breaks; :mod:`.page`
embeds a diagram as JSON in the handwritten page. The viewer reads checker/ and protocol/ output
and never imports the model or the reference.
"""
