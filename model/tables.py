"""The static tables a model is built from: its workload flattened into per-process and
global index tables (record -> partition, transaction -> records, process -> producer id...),
so that actions look values up instead of recomputing them.

Process ``proc`` is the index of its ProducerSpec; a transactional.id's producer id is the
index of its first appearance; records and transactions are numbered per process (``rec``,
``current``) and globally (Workload order).
"""

from __future__ import annotations

from typing import Any, Final

from .params import CTP, IDEMPOTENT, READ_COMMITTED, TRANSACTIONAL, Knobs, Workload

# positions in a ``records`` entry (a workload record, global numbering); Final, so that the
# type checker knows each position's type
REC_PROCESS: Final = 0
REC_LOCAL: Final = 1
REC_PARTITION: Final = 2
REC_TXN: Final = 3
REC_VALUE: Final = 4  # the record's value, e.g. app#0.t0.p1
REC_SOURCE: Final = 5  # CTP output: the input offset it transforms (-1: none)
REC_GROUP_OFFSET: Final = 6  # CTP offsets record: the group offset it commits


class WorkloadTables:
    """The tables (a base class of the model: the actions read them as its attributes)."""

    knobs: Knobs
    workload: Workload

    def _build_static(self) -> None:
        workload, knobs = self.workload, self.knobs
        self.data_partitions = workload.partitions
        has_ctp = any(p.kind == CTP for p in workload.producers)
        self.offsets_partition = workload.partitions if has_ctp else -1
        self.partition_count = workload.partitions + (1 if has_ctp else 0)
        self.partition_names = tuple(f"t-{i}" for i in range(workload.partitions)) + (
            ("__consumer_offsets-0",) if has_ctp else ()
        )
        self.tv2 = knobs.transaction_version >= 2
        self.read_committed = workload.consumer == READ_COMMITTED
        # transactional ids, in order of first appearance; pid = its index
        tids: list[str] = []
        for spec in workload.producers:
            if spec.kind in (TRANSACTIONAL, CTP) and spec.transactional_id not in tids:
                tids.append(spec.transactional_id)
        self.transactional_ids = tuple(tids)
        #: the consumer group's members (KIP-447): the CTP applications' transactional ids
        self.ctp_members = tuple(
            tid
            for tid, name in enumerate(tids)
            if any(s.kind == CTP and s.transactional_id == name for s in workload.producers)
        )
        pid_tid: list[int] = list(range(len(tids)))
        # per-process tables
        self.kinds: list[str] = []
        self.process_names: list[str] = []
        self.tid_of: list[int] = []
        self.pid_of: list[int] = []
        self.previous_incarnation: list[int] = []
        self.record_partition: list[tuple[int, ...]] = []
        self.record_global: list[tuple[int, ...]] = []
        self.record_txn: list[tuple[int, ...]] = []
        self.txn_records: list[tuple[tuple[int, ...], ...]] = []
        self.txn_commit: list[tuple[bool, ...]] = []
        self.txn_global: list[tuple[int, ...]] = []
        self.txn_mask: list[tuple[int, ...]] = []
        self.txn_offset_record: list[tuple[int, ...]] = []
        # global tables: record -> (process, local, partition, txn, value, ctp input, offset)
        # (REC_* positions)
        self.records: list[tuple[int, int, int, int, str, int, int]] = []
        self.transactions: list[tuple[int, int, bool]] = []
        incarnation_count: dict[str, int] = {}
        last_of_tid: dict[str, int] = {}
        for index, spec in enumerate(workload.producers):
            self._add_process(index, spec, tids, pid_tid, incarnation_count, last_of_tid)
        self.pid_tid = tuple(pid_tid)
        self.pid_count = len(pid_tid)
        self.ctp_input = workload.ctp_input
        self.ctp_output = workload.ctp_output
        self.process_count = len(self.kinds)
        self.full_mask = (1 << self.partition_count) - 1
        #: whether each process is transactional (a transactional.id: TRANSACTIONAL or CTP)
        self.transactional = tuple(kind in (TRANSACTIONAL, CTP) for kind in self.kinds)
        #: every record index of each process, in send order
        self.all_records = tuple(tuple(range(len(parts))) for parts in self.record_partition)

    def _add_process(
        self,
        index: int,
        spec: Any,
        tids: list[str],
        pid_tid: list[int],
        incarnation_count: dict[str, int],
        last_of_tid: dict[str, int],
    ) -> None:
        self.kinds.append(spec.kind)
        parts: list[int] = []
        txn_of_record: list[int] = []
        values: list[str] = []
        extra: list[tuple[int, int]] = []  # (ctp input, committed offset value)
        txn_recs: list[tuple[int, ...]] = []
        commits: list[bool] = []
        masks: list[int] = []
        offset_recs: list[int] = []
        if spec.kind in (TRANSACTIONAL, CTP):
            tid = tids.index(spec.transactional_id)
            incarnation = incarnation_count.get(spec.transactional_id, 0)
            incarnation_count[spec.transactional_id] = incarnation + 1
            name = f"{spec.transactional_id}#{incarnation}"
            self.tid_of.append(tid)
            self.pid_of.append(tid)
            self.previous_incarnation.append(last_of_tid.get(spec.transactional_id, -1))
            last_of_tid[spec.transactional_id] = index
            if spec.kind == TRANSACTIONAL:
                txn_specs = [(t.partitions, t.commit) for t in spec.transactions]
            else:
                txn_specs = [((self.workload.ctp_output,), True)] * self.workload.ctp_input
            for t, (partitions, commit) in enumerate(txn_specs):
                local: list[int] = []
                for partition in partitions:
                    local.append(len(parts))
                    parts.append(partition)
                    txn_of_record.append(t)
                    label = f"out{t}" if spec.kind == CTP else f"t{t}"
                    values.append(f"{name}.{label}.p{partition}")
                    extra.append((t if spec.kind == CTP else -1, -1))
                offset_rec = -1
                if spec.kind == CTP:
                    offset_rec = len(parts)
                    local.append(offset_rec)
                    parts.append(self.offsets_partition)
                    txn_of_record.append(t)
                    values.append(f"{name}.offset{t + 1}")
                    extra.append((-1, t + 1))
                txn_recs.append(tuple(local))
                commits.append(commit)
                masks.append(sum(1 << p for p in set(partitions)))
                offset_recs.append(offset_rec)
        else:
            name = f"{spec.kind}{index}"
            self.tid_of.append(-1)
            if spec.kind == IDEMPOTENT and self.knobs.idempotence:
                self.pid_of.append(len(pid_tid))
                pid_tid.append(-1)
            else:
                self.pid_of.append(-1)
            self.previous_incarnation.append(-1)
            for position, partition in enumerate(spec.batches):
                parts.append(partition)
                txn_of_record.append(-1)
                values.append(f"{name}.r{position}.p{partition}")
                extra.append((-1, -1))
        self.process_names.append(name)
        first_txn = len(self.transactions)
        for t, commit in enumerate(commits):
            self.transactions.append((index, t, commit))
        globals_: list[int] = []
        for rec, partition in enumerate(parts):
            globals_.append(len(self.records))
            t = txn_of_record[rec]
            self.records.append(
                (
                    index,
                    rec,
                    partition,
                    first_txn + t if t >= 0 else -1,
                    values[rec],
                    extra[rec][0],
                    extra[rec][1],
                )
            )
        self.record_partition.append(tuple(parts))
        self.record_global.append(tuple(globals_))
        self.record_txn.append(tuple(txn_of_record))
        self.txn_records.append(tuple(txn_recs))
        self.txn_commit.append(tuple(commits))
        self.txn_global.append(tuple(range(first_txn, first_txn + len(commits))))
        self.txn_mask.append(tuple(masks))
        self.txn_offset_record.append(tuple(offset_recs))
