"""Each counterexample of the verdict table, validated as a history, is a violation there too.

``kafka-eos check --config NAME --trace-out t.itf.json`` then ``kafka-eos validate t.itf.json``
must exit 1 naming the row's property: the history checks and the model agree on what is
wrong (``no-coordinator-epoch-check``'s torn transaction and ``tv1-no-verification``'s hanging
transaction were once called clean).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafka_eos.cli.main import main
from kafka_eos.model.liveness import TEMPORAL_PROPERTIES
from kafka_eos.model.properties import ALL_PROPERTIES
from kafka_eos.model.verdicts import load_verdicts
from kafka_eos.protocol.history_checks import PROPERTIES

#: Liveness violations no history shows: a transaction stuck in Prepare* after its marker was
#: written looks, from the clients and the logs, like one that completed (its records are
#: visible); only the coordinator's state says it never will.
NOT_IN_A_HISTORY = {"ended_transactions_complete"}
VIOLATED_ROWS = sorted(
    name
    for name, row in load_verdicts().items()
    if row.verdict == "violated"
    and not row.slow
    and str(row.violated).split("[")[0] not in NOT_IN_A_HISTORY
)
#: A model property a history cannot state, and the history property its counterexample breaks:
#: exactly_once_ctp needs which output record came from which input record, which a history
#: does not say; the zombie's output written under a fenced epoch is what the history shows.
#: A liveness violation is a lasso: what a finite history shows of a hanging transaction's stuck
#: LSO is the transaction no coordinator knows.
#: decisions_asked needs the requests a client sent, which a history does not hold; what it
#: shows of a client told its commit succeeded while its transaction was aborted is an EndTxn
#: that returned success followed by ABORT markers.
HISTORY_TERMS = {
    "exactly_once_ctp": "no_fenced_writes",
    "lso_reaches_high_watermark": "open_txns_known",
    "decisions_asked": "atomic_transactions",
}


def test_the_history_checks_speak_the_models_property_names() -> None:
    assert set(PROPERTIES) <= set(ALL_PROPERTIES)
    assert set(HISTORY_TERMS) <= set(ALL_PROPERTIES + TEMPORAL_PROPERTIES) - set(PROPERTIES)


def test_there_are_counterexamples_to_validate() -> None:
    assert {"no-coordinator-epoch-check", "tv1-no-verification", "read-uncommitted"} <= set(
        VIOLATED_ROWS
    )


#: Rows whose counterexample a history does not show yet, and why (strict xfails: a history
#: check that starts to see one shows up as XPASS).
NOT_SHOWN_BY_A_HISTORY: dict[str, str] = {
    # (ctp-timeout-no-epoch-bump was one until the client-view judgement: its trace ends with
    # the client told its commit succeeded, which decisions_asked names and a history shows
    # as an EndTxn that returned success followed by the ABORT markers of its transaction)
    "ctp-rebalance-no-generation-check": "the duplicate is two group members' outputs of one "
    "input record, each a valid write of its own producer: a history does not say which input "
    "an output came from, and every partition transaction ends as its client asked",
    "producer-epoch-wrap": "after the wrap both incarnations write under the same producer id "
    "and epoch: the zombie's EndTxn and the new incarnation's transaction are one producer's to "
    "a history, whose three events (the trace ends at the unasked PrepareCommit) show no "
    "client told of an outcome it did not ask for",
    "tv2-producer-epoch-wrap": "as producer-epoch-wrap under transaction version 2: after "
    "the wrap the zombie and the new incarnation are one producer id and epoch to a history, "
    "and the trace ends at the coordinator's unasked PrepareAbort, before any marker or "
    "answer tells a client of it",
    "txn-timeout-no-epoch-bump": "the hanging transaction is a batch landing after an ABORT "
    "marker of its own epoch that the coordinator wrote on a timeout: the history has no event "
    "telling the client of it (the hanging-transaction check starts from a failed batch the "
    "client was told of), and under transaction version 2 an append at the marker's epoch is "
    "the next transaction's, so the epoch alone cannot tell",
    "idempotent-retriable-reorder": "the history judges a producer's order by sequence within "
    "an epoch; this reorder crosses a KIP-360 epoch bump and shows only against the "
    "application's send order (Elle's nonmonotonic-send, issue 11's client-view properties)",
    "elle-nonmonotonic-send": "each acknowledgement names its batch as the answered attempt "
    "carried it: the second batch e0/s1 (appended before the bump), the retried first e1/s0 "
    "(after it), so by epoch and sequence the first comes after the second and only the "
    "application's send order, which the model's client view keeps, shows the reorder; the "
    "history shows the duplicate the retry wrote (no_duplicates)",
    "replicated-reorder": "the history checks judge a producer's order within an epoch (its "
    "sequence numbers); the KIP-360 bump puts the two batches in different epochs",
    "tv1-late-marker": "the trace ends when the late ABORT marker is written over the second "
    "transaction's acknowledged record: the coordinator's COMMIT marker and a read that would "
    "miss the record come later, so the history's events show nothing wrong yet",
    "tv1-request-timeouts": "the trace ends when the coordinator durably decides to commit the "
    "second transaction on the late EndTxn copy: no marker and no answer to the client of that "
    "decision is written yet, so a history has no event of it",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name, marks=pytest.mark.xfail(strict=True, reason=NOT_SHOWN_BY_A_HISTORY[name])
        )
        if name in NOT_SHOWN_BY_A_HISTORY
        else name
        for name in VIOLATED_ROWS
    ],
)
def test_a_counterexample_validated_is_the_same_violation(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / f"{name}.itf.json"
    assert main(["check", "--config", name, "--quiet", "--trace-out", str(trace)]) == 1
    capsys.readouterr()
    assert main(["validate", "--json", str(trace)]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {violation["property"] for violation in report["violations"]}
    violated = str(load_verdicts()[name].violated).split("[")[0]  # a per-transaction property
    assert found <= set(ALL_PROPERTIES)
    assert HISTORY_TERMS.get(violated, violated) in found, (name, report["violations"])
