"""Kafka's liveness: what must eventually happen, under fairness on Kafka's own steps.

Fairness. Every step Kafka's servers and client libraries take by themselves is weakly fair,
each label on its own (each message, each partition, each transactional.id): a message in
flight that stays deliverable is eventually delivered (``Handle*``, ``Receive*``, ``Fetch``),
the coordinator eventually writes what it decided (``CompleteTxnLogAppend``), retries a marker
or a request whose answer was lost (``ResendTxnMarker``, ``ResendCoordinatorRequest``: the
client library's own retry), and aborts a transaction left open when
``transaction.timeout.ms`` may fire (``TimeoutTransaction``, only where the configuration's
``txn_timeouts`` budget allows it). Faults are never fair (``LoseMessage``,
``CoordinatorFailover``, ``ExpireProducerState``, ``ExpireBatch``, ``RetryProduce``), nor is an
application's choice to start or end work (``InitProducerId``, ``BeginTransaction``, ``Send``,
``AddOffsetsToTxn``, ``CommitTransaction``, ``AbortTransaction``, ``FetchCommittedOffset``):
a producer that stops for ever is a crashed one.

Properties (spec/SPEC.md has the long form), each checked per transaction where it names one:

- ``ended_transactions_complete``: a transaction whose client sent EndTxn is eventually decided
  at the coordinator and closed everywhere: out of PrepareCommit/PrepareAbort (CompleteCommit
  or CompleteAbort written) and its marker written on every partition it wrote to (under
  transaction version 2 one the coordinator never held, its client fenced, is only closed:
  there is nothing to decide);
- ``lso_reaches_high_watermark``: once no producer is mid-transaction (a fenced incarnation,
  one another incarnation's newer epoch supersedes, does not count: its transaction is the
  coordinator's to abort), every partition's LSO
  eventually reaches its high watermark (KIP-664's hanging transaction pins it for ever);
- ``committed_records_delivered``: a read_committed consumer eventually returns every record of
  every committed transaction;
- ``abandoned_transactions_abort``: an open transaction whose producer was fenced (another
  incarnation holds a newer epoch, or the client is in FATAL_ERROR) is eventually closed
  everywhere; where
  a transaction timeout is left in the budget, so is one whose producer simply stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Final

from kafka_eos.checker.temporal import Fairness, TemporalProperty, leads_to, weakly_fair
from kafka_eos.errors import InputError
from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState

from .kafka import KafkaEosModel
from .layout import (
    C_CURRENT,
    C_EPOCH,
    C_STATE,
    CP_DELIVERED,
    D_RECORD,
    E_TXN_FIRST,
    F_TXN_TIMEOUTS,
    K_METADATA,
    O_COMMIT,
    O_UNDECIDED,
    P_LOG,
    P_PRODUCERS,
    S_BUDGET,
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_OUTCOMES,
    S_PARTITIONS,
    T_OWNER,
    T_STATE,
    Tup,
)
from .params import CTP, TRANSACTIONAL, Faults, Knobs, Workload
from .tables import REC_PARTITION, REC_TXN
from .views import high_watermark, last_stable_offset

#: The steps Kafka takes by itself (servers, the network, the client library's own retries).
FAIR_ACTIONS = (
    "HandleProduce",
    "VerifyPartition",
    "AppendVerified",
    "HandleWriteTxnMarkers",
    "FollowerFetch",
    "HandleInitProducerId",
    "HandleAddPartitionsToTxn",
    "HandleAddOffsetsToTxn",
    "HandleEndTxn",
    "HandleVerifyPartition",
    "CompleteTxnLogAppend",
    "HandleWriteTxnMarkersResponse",
    "ResendTxnMarker",
    "TimeoutTransaction",
    "ReceiveProduceResponse",
    "ReceiveCoordinatorResponse",
    "ResendCoordinatorRequest",
    "Fetch",
)

DESCRIPTIONS: dict[str, str] = {
    "ended_transactions_complete": "a transaction whose client sent EndTxn eventually leaves "
    "PrepareCommit/PrepareAbort with its marker written on every partition it wrote to "
    "(KAFKA-19999, KAFKA-16352: stuck in Prepare*)",
    "lso_reaches_high_watermark": "once no producer is mid-transaction, every partition's LSO "
    "eventually reaches its high watermark (KIP-664: a hanging transaction pins the LSO)",
    "committed_records_delivered": "a read_committed consumer eventually returns every record "
    "of every committed transaction",
    "abandoned_transactions_abort": "an open transaction of a fenced producer (or, with a "
    "transaction timeout in the budget, of one that stopped) is eventually closed everywhere",
}
TEMPORAL_PROPERTIES = tuple(DESCRIPTIONS)

_MID_TRANSACTION: Final = frozenset(
    int(s)
    for s in (
        ClientState.IN_TRANSACTION,
        ClientState.COMMITTING_TRANSACTION,
        ClientState.ABORTING_TRANSACTION,
        ClientState.ABORTABLE_ERROR,
    )
)
_ENDING: Final = frozenset(
    int(s) for s in (ClientState.COMMITTING_TRANSACTION, ClientState.ABORTING_TRANSACTION)
)
_FATAL: Final = int(ClientState.FATAL_ERROR)
_OPEN_AT_COORDINATOR: Final = frozenset(
    int(s) for s in (TxnState.ONGOING, TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)
)

Predicate = Callable[[Tup], bool]


class KafkaEosLivenessModel(KafkaEosModel):
    """The Kafka model with temporal properties to check (names from
    :data:`TEMPORAL_PROPERTIES`) and Kafka's fairness."""

    def __init__(
        self,
        *,
        temporal: Iterable[str],
        knobs: Knobs | None = None,
        faults: Faults | None = None,
        workload: Workload | None = None,
        checked: Iterable[str] | None = None,
    ) -> None:
        # The parameters spelt out, not forwarded as **kwargs: compiled (mypyc), a
        # forwarded keyword dict reaches the base class's keyword-only parameters whole.
        super().__init__(knobs=knobs, faults=faults, workload=workload, checked=checked)
        self.temporal = tuple(temporal)
        unknown = [name for name in self.temporal if name not in TEMPORAL_PROPERTIES]
        if unknown:
            raise InputError(f"unknown temporal property {unknown[0]!r}; known: "
                             f"{', '.join(TEMPORAL_PROPERTIES)}")

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        rebuilt, arguments = super().__reduce__()
        return partial(rebuilt, temporal=self.temporal), arguments

    def temporal_properties(self) -> dict[str, TemporalProperty]:
        return temporal_properties(self, self.temporal)

    def fairness(self) -> list[Fairness]:
        switched_on = set(self.action_names())
        return [weakly_fair(name, per_label=True) for name in FAIR_ACTIONS if name in switched_on]


def temporal_properties(model: KafkaEosModel, names: Iterable[str]) -> dict[str, TemporalProperty]:
    """The named properties, one instance per transaction where they name one
    (``ended_transactions_complete[app#0.txn0]``)."""
    facts = _Transactions(model)
    wanted = set(names)
    checked: dict[str, TemporalProperty] = {}
    for g, title in enumerate(facts.titles):
        if "ended_transactions_complete" in wanted:
            checked[f"ended_transactions_complete[{title}]"] = leads_to(
                facts.ended(g), facts.completed(g)
            )
        if "committed_records_delivered" in wanted and model.read_committed:
            checked[f"committed_records_delivered[{title}]"] = leads_to(
                facts.committed(g), facts.delivered(g)
            )
        if "abandoned_transactions_abort" in wanted:
            checked[f"abandoned_transactions_abort[{title}]"] = leads_to(
                facts.abandoned(g), facts.closed(g)
            )
    if "lso_reaches_high_watermark" in wanted and facts.titles:
        checked["lso_reaches_high_watermark"] = leads_to(facts.quiet, _lso_at_high_watermark)
    return checked


def _lso_at_high_watermark(state: Tup) -> bool:
    return all(_lso_uncached(p) == high_watermark(p) for p in state[S_PARTITIONS])


#: views' last_stable_offset without its cache, whose look-up hashes the whole partition (a
#: nested tuple; Python caches no tuple hash) and costs more than the offset it saves
#: computing: this goal is evaluated on every state where the graph is recorded by number.
_lso_uncached = last_stable_offset.__wrapped__


# The state's parts read as typed locals: compiled (mypyc), a part read from a value typed
# Any is read by the generic subscript; from a Tup, by the tuple's own.


def _epoch(clients: Tup, proc: int) -> int:
    client: Tup = clients[proc]
    epoch: int = client[C_EPOCH]
    return epoch


def _client_state(clients: Tup, proc: int) -> int:
    client: Tup = clients[proc]
    code: int = client[C_STATE]
    return code


def _outcome(state: Tup, g: int) -> int:
    outcomes: Tup = state[S_OUTCOMES]
    outcome: int = outcomes[g]
    return outcome


class _Transactions:
    """Per transaction of the workload: the state predicates the properties are made of."""

    def __init__(self, model: KafkaEosModel) -> None:
        self.model = model
        self.titles: list[str] = []
        self.where: list[tuple[int, int, int, int]] = []  # (process, local txn, tid, pid)
        #: per transactional.id, its producers' state slots (its producer ids, rotated too)
        self.slots = tuple(
            tuple(slot for slot, owner in enumerate(model.pid_tid) if owner == tid)
            for tid in range(len(model.transactional_ids))
        )
        self.partitions: list[tuple[int, ...]] = []
        self.data_records: list[tuple[tuple[int, int], ...]] = []  # (partition, global record)
        # (only transactional producers have transactions)
        for proc, t, _commit in model.transactions:
            self.titles.append(f"{model.process_names[proc]}.txn{t}")
            self.where.append((proc, t, model.tid_of[proc], model.pid_of[proc]))
            records = [model.record_global[proc][r] for r in model.txn_records[proc][t]]
            parts = [model.records[r][REC_PARTITION] for r in records]
            self.partitions.append(tuple(sorted(set(parts))))
            self.data_records.append(tuple(
                (part, r) for part, r in zip(parts, records, strict=True)
                if part < model.data_partitions
            ))
        # The other incarnations of each process's transactional.id.
        self.siblings = [
            tuple(q for q in range(model.process_count)
                  if q != proc and model.tid_of[q] == model.tid_of[proc] >= 0)
            for proc in range(model.process_count)
        ]
        #: the processes that run transactions (only they can be mid-transaction)
        self.transactional = tuple(proc for proc in range(model.process_count)
                                   if model.kinds[proc] in (TRANSACTIONAL, CTP))
        # is_open's last answer: the state (held, so no other can be mistaken for it), g
        self.open_asked: Tup = ()
        self.open_asked_for = -1
        self.open_answer = False

    def superseded(self, state: Tup, proc: int) -> bool:
        """Fenced: another incarnation of the transactional.id holds a newer epoch (its
        InitProducerId came later, whatever the workload's order), or the client has failed
        for good."""
        return self._superseded_among(state[S_CLIENTS], proc)

    def _superseded_among(self, clients: Tup, proc: int) -> bool:
        client: Tup = clients[proc]
        code: int = client[C_STATE]
        epoch: int = client[C_EPOCH]
        return code == _FATAL or any(_epoch(clients, q) > epoch for q in self.siblings[proc])

    def is_open(self, state: Tup, g: int) -> bool:
        """Open at the coordinator (Ongoing or Prepare*, owned by ``g``), or on a partition (its
        producer's open transaction there begins with a record of ``g``).

        The last answer is remembered: where each predicate is evaluated on each state in
        turn (a graph recorded by number), completed, closed and abandoned ask it of the
        same state and transaction one after the other."""
        if state is self.open_asked and g == self.open_asked_for:
            return self.open_answer
        answer = self._is_open(state, g)
        self.open_asked, self.open_asked_for, self.open_answer = state, g, answer
        return answer

    def _is_open(self, state: Tup, g: int) -> bool:
        _proc, _t, tid, _pid = self.where[g]
        coordinator: Tup = state[S_COORDINATOR]
        all_metadata: Tup = coordinator[K_METADATA]
        metadata: Tup = all_metadata[tid]
        owner: int = metadata[T_OWNER]
        if owner == g and metadata[T_STATE] in _OPEN_AT_COORDINATOR:
            return True
        records = self.model.records
        partitions: Tup = state[S_PARTITIONS]
        for part in self.partitions[g]:
            partition: Tup = partitions[part]
            for slot in self.slots[tid]:  # its producer id, or one it rotated to
                entry = partition[P_PRODUCERS][slot]
                if entry and entry[E_TXN_FIRST] >= 0:
                    first = partition[P_LOG][entry[E_TXN_FIRST]]
                    if records[first[D_RECORD]][REC_TXN] == g:
                        return True
        return False

    def ended(self, g: int) -> Predicate:
        proc, t, _, _ = self.where[g]

        def ended(state: Tup) -> bool:
            clients: Tup = state[S_CLIENTS]
            client: Tup = clients[proc]
            current: int = client[C_CURRENT]
            return current == t and client[C_STATE] in _ENDING

        return ended

    def closed(self, g: int) -> Predicate:
        return lambda state: not self.is_open(state, g)

    def completed(self, g: int) -> Predicate:
        """Closed everywhere and decided at the coordinator; or closed and its client fenced,
        for a transaction the coordinator never held: under transaction version 2 one none
        of whose writes a leader added (each refused for a newer epoch) is unknown to the
        coordinator, and the fenced client's EndTxn is refused, so there is nothing to
        decide (one the coordinator held is decided when it leaves Ongoing, since is_open
        counts it open until then)."""
        proc = self.where[g][0]

        def completed(state: Tup) -> bool:
            if self.is_open(state, g):
                return False
            return _outcome(state, g) != O_UNDECIDED or self.superseded(state, proc)

        return completed

    def committed(self, g: int) -> Predicate:
        return lambda state: _outcome(state, g) == O_COMMIT

    def delivered(self, g: int) -> Predicate:
        records = self.data_records[g]

        def delivered(state: Tup) -> bool:
            partitions, consumer = state[S_PARTITIONS], state[S_CONSUMER]
            for part, record in records:
                log = partitions[part][P_LOG]
                delivered = consumer[part][CP_DELIVERED]
                if not any(log[offset][D_RECORD] == record for offset in delivered):
                    return False
            return True

        return delivered

    def abandoned(self, g: int) -> Predicate:
        proc = self.where[g][0]

        def abandoned(state: Tup) -> bool:
            budget: Tup = state[S_BUDGET]
            timeouts: int = budget[F_TXN_TIMEOUTS]
            stopped_may_time_out = timeouts > 0
            return (stopped_may_time_out or self.superseded(state, proc)) and self.is_open(
                state, g
            )

        return abandoned

    def quiet(self, state: Tup) -> bool:
        """No producer is mid-transaction (superseded incarnations aside)."""
        return self._quiet_among(state[S_CLIENTS])

    def _quiet_among(self, clients: Tup) -> bool:
        return not any(
            _client_state(clients, proc) in _MID_TRANSACTION
            and not self._superseded_among(clients, proc)
            for proc in self.transactional
        )

