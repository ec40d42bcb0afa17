"""The group coordinator: committed offsets (plain and transactional) and group membership
(Kafka's GroupCoordinator / GroupMetadataManager, classic protocol), sans-I/O.

Offsets live in the ``__consumer_offsets-0`` partition, a real partition of the host node:
a commit is a batch whose records are JSON commit entries; a transactional commit is a
transactional batch with the producer's id and epoch (so the leader's producer-state checks
fence zombies exactly as for data), made visible or dropped by the COMMIT / ABORT marker the
transaction coordinator writes there. The materialized view is rebuilt by replaying that log.

Inspectable state:

* ``committed``: (group, TopicPartition) -> committed offset (visible to OffsetFetch);
* ``pending``: producer id -> its transactional commits not yet decided, in log order:
  (log offset of the record, (group, TopicPartition), offset) (OffsetFetch with require_stable
  answers UNSTABLE_OFFSET_COMMIT for them);
* ``groups``: group id -> :class:`Group` (state, generation, leader, members).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.history import OffsetCommit as OffsetCommitEvent
from kafka_eos.reference.messages import (
    CommittedOffset,
    FetchedOffset,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupMember,
    JoinGroupProtocol,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    LeaveGroupResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    PartitionResult,
    SyncGroupRequest,
    SyncGroupResponse,
    TopicPartition,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from kafka_eos.reference.producer_state import AppendOrigin

if TYPE_CHECKING:
    from kafka_eos.reference.log import LogBatch
    from kafka_eos.reference.node import BrokerNode, Outbound

Reply = Callable[[object], "list[Outbound]"]
OffsetKey = tuple[str, TopicPartition]


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"


@dataclass(slots=True)
class Member:
    member_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[Any, ...]
    last_heartbeat_ms: int
    assignment: Any = None
    pending_join: tuple[str, int] | None = None  # (source, correlation id) of a waiting join
    pending_sync: tuple[str, int] | None = None
    metadata: Any = None


@dataclass(slots=True)
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    members: dict[str, Member] = field(default_factory=dict)
    pending_member_ids: set[str] = field(default_factory=set)
    rebalance_deadline_ms: int = 0
    next_member_number: int = 0


def _entry(group: str, tp: TopicPartition, offset: int, metadata: str = "") -> str:
    return json.dumps(
        {
            "group": group,
            "topic": tp.topic,
            "partition": tp.partition,
            "offset": offset,
            "metadata": metadata,
        },
        separators=(",", ":"),
    )


class GroupCoordinator:
    def __init__(self, host: BrokerNode) -> None:
        self.host = host
        self.committed: dict[OffsetKey, int] = {}
        self.pending: dict[int, list[tuple[int, OffsetKey, int]]] = {}
        self.groups: dict[str, Group] = {}

    @property
    def now_ms(self) -> int:
        return self.host.clock.now_ms()

    def _group(self, group_id: str) -> Group:
        if group_id not in self.groups:
            self.groups[group_id] = Group(group_id)
        return self.groups[group_id]

    # -- the offsets log -------------------------------------------------------------------------

    def replay(self, batch: LogBatch) -> None:
        """Apply one batch of ``__consumer_offsets`` (at load, and after each replicated append)."""
        if batch.is_control:
            self.on_txn_marker(batch.producer_id, batch.is_commit, batch.base_offset)
            return
        for record in batch.records:
            raw = json.loads(record)
            if raw.get("kind") == "group":
                self._restore_group(raw)
                continue
            key = (raw["group"], TopicPartition(raw["topic"], raw["partition"]))
            if batch.is_transactional:
                entry = (batch.base_offset, key, raw["offset"])
                self.pending.setdefault(batch.producer_id, []).append(entry)
            else:
                self.committed[key] = raw["offset"]

    # -- group metadata in the log (GroupMetadataManager.storeGroup) ---------------------------

    def _store_group(self, group: Group) -> None:
        """Write the group's generation and members to the offsets log, so that a restarted
        or failed-over coordinator never hands out a generation or member id twice (KIP-447
        fencing relies on generations being unique)."""
        members = [
            {
                "member_id": m.member_id,
                "session_timeout_ms": m.session_timeout_ms,
                "rebalance_timeout_ms": m.rebalance_timeout_ms,
                "protocols": [[p.name, _plain(p.metadata)] for p in m.protocols],
                "assignment": _plain(m.assignment),
            }
            for m in group.members.values()
        ]
        record = {
            "kind": "group",
            "group": group.group_id,
            "generation": group.generation_id,
            "protocol_type": group.protocol_type,
            "protocol_name": group.protocol_name,
            "leader": group.leader_id,
            "next_member_number": group.next_member_number,
            "members": members,
        }
        partition = self.host.partition(self.host.offsets_partition_for(group.group_id))
        partition.append_data(
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            records=(json.dumps(record, separators=(",", ":")),),
            record_count=1,
            transactional=False,
            origin=AppendOrigin.COORDINATOR,
            now_ms=self.now_ms,
        )

    def _restore_group(self, raw: dict[str, Any]) -> None:
        group = self._group(raw["group"])
        group.generation_id = raw["generation"]
        group.protocol_type = raw["protocol_type"]
        group.protocol_name = raw["protocol_name"]
        group.leader_id = raw["leader"]
        group.next_member_number = raw["next_member_number"]
        group.members = {}
        for m in raw["members"]:
            member = Member(
                m["member_id"],
                m["session_timeout_ms"],
                m["rebalance_timeout_ms"],
                tuple(JoinGroupProtocol(name, _tuple(meta)) for name, meta in m["protocols"]),
                self.now_ms,  # members must heartbeat to the new coordinator in time
                assignment=_tuple(m["assignment"]),
            )
            group.members[member.member_id] = member
        group.state = GroupState.STABLE if group.members else GroupState.EMPTY

    def on_txn_marker(self, producer_id: int, commit: bool, marker_offset: int) -> None:
        """A marker at ``marker_offset`` of the offsets partition: the producer's commits
        before it in the log become visible (COMMIT) or are dropped (ABORT). Its commits after
        it stay pending: they are the next transaction's (written before this marker is
        replicated, when it is a late copy of one already written), which Kafka's coordinator,
        replaying the marker as it writes it (OffsetMetadataManager
        .replayEndTransactionMarker), has not seen yet either."""
        entries = self.pending.pop(producer_id, [])
        later = [entry for entry in entries if entry[0] > marker_offset]
        if later:
            self.pending[producer_id] = later
        if not commit:
            return
        ended: dict[OffsetKey, int] = {}
        for written_at, key, offset in entries:
            if written_at < marker_offset:
                ended[key] = offset  # in log order: a later commit of the key wins
        for (group, tp), offset in sorted(ended.items()):
            self.committed[(group, tp)] = offset
            self.host.record_event(OffsetCommitEvent(group, str(tp), offset, producer_id, True))

    # -- OffsetCommit / TxnOffsetCommit ----------------------------------------------------------

    def handle_offset_commit(self, request: OffsetCommitRequest, reply: Reply) -> list[Outbound]:
        def answer(error: ErrorCode) -> list[Outbound]:
            results = tuple(PartitionResult(o.topic, o.partition, error) for o in request.offsets)
            return reply(OffsetCommitResponse(request.correlation_id, results))

        error = self._validate_member(
            request.group_id, request.member_id, request.generation_id, transactional=False
        )
        if error is not ErrorCode.NONE:
            return answer(error)
        return self._append(request.group_id, request.offsets, -1, -1, False, answer)

    def handle_txn_offset_commit(
        self, request: TxnOffsetCommitRequest, reply: Reply
    ) -> list[Outbound]:
        def answer(error: ErrorCode) -> list[Outbound]:
            results = tuple(PartitionResult(o.topic, o.partition, error) for o in request.offsets)
            return reply(TxnOffsetCommitResponse(request.correlation_id, results))

        def append(error: ErrorCode, guard: int | None) -> list[Outbound]:
            if error is ErrorCode.NETWORK_EXCEPTION:
                # the verification's connection broke: answered as a retriable error older
                # clients retry without a coordinator lookup
                # (CoordinatorOperationExceptionHelper.handleOperationException)
                return answer(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
            if error is not ErrorCode.NONE:
                return answer(error)
            # KIP-447: a commit naming a member and generation is fenced if they are stale.
            # Checked in the write itself, after the verification round trip, as Kafka does
            # (GroupCoordinatorService.commitTransactionalOffsets: CoordinatorRuntime.
            # scheduleTransactionalWriteOperation verifies first, then runs the write event,
            # OffsetMetadataManager.commitTransactionalOffset, which validates the member).
            # Validated before the round trip, a rebalance completing during it let a stale
            # member's offsets in after the new owner had fetched the old ones.
            error = self._validate_member(
                request.group_id, request.member_id, request.generation_id, transactional=True
            )
            if error is not ErrorCode.NONE:
                return answer(error)
            return self._append(
                request.group_id,
                request.offsets,
                request.producer_id,
                request.producer_epoch,
                True,
                answer,
                guard=guard,
            )

        partition = self.host.partition(self.host.offsets_partition_for(request.group_id))
        ongoing = partition.producers.has_ongoing_txn(request.producer_id, request.producer_epoch)
        knobs = self.host.config.knobs
        adds = knobs.transaction_version >= 2
        if (knobs.partition_verification or adds) and not ongoing:
            # KIP-890 part 1 covers transactional offset commits too: a late TxnOffsetCommit
            # must not open a transaction the coordinator has already finished. Under
            # transaction version 2 the verification adds the offsets partition (the client
            # sent no AddOffsetsToTxn: AddPartitionsToTxnManager
            # .txnOffsetCommitRequestVersionToTransactionSupportedOperation, addPartition
            # above version 4).
            return self.host.verify_transaction(
                request.transactional_id,
                request.producer_id,
                request.producer_epoch,
                partition,
                append,
                add=adds,
            )
        return append(ErrorCode.NONE, None)

    def _validate_member(
        self, group_id: str, member_id: str, generation_id: int, *, transactional: bool
    ) -> ErrorCode:
        group = self.groups.get(group_id)
        if not member_id and generation_id < 0:
            if group is not None and group.members and not transactional:
                return ErrorCode.UNKNOWN_MEMBER_ID  # a simple commit to an active group
            return ErrorCode.NONE
        if group is None or member_id not in group.members:
            return ErrorCode.UNKNOWN_MEMBER_ID
        # KIP-447: a transactional commit of a stale generation is fenced (knob
        # group_generation_check; off, the generation of a TxnOffsetCommit is not checked)
        checks_generation = not transactional or self.host.config.knobs.group_generation_check
        if checks_generation and generation_id != group.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        if not transactional and group.state is GroupState.PREPARING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return ErrorCode.NONE

    def _append(
        self,
        group_id: str,
        offsets: tuple[CommittedOffset, ...],
        producer_id: int,
        producer_epoch: int,
        transactional: bool,
        answer: Callable[[ErrorCode], list[Outbound]],
        *,
        guard: int | None = None,
    ) -> list[Outbound]:
        records = tuple(
            _entry(
                group_id,
                TopicPartition(o.topic, o.partition),
                o.committed_offset,
                o.committed_metadata,
            )
            for o in offsets
        )
        partition = self.host.offsets_partition_for(group_id)
        result = self.host.partition(partition).append_data(
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            base_sequence=-1,
            records=records,
            record_count=len(records),
            transactional=transactional,
            origin=AppendOrigin.COORDINATOR,
            now_ms=self.now_ms,
            verification_guard=guard,
            verification_required=transactional and self.host.config.knobs.partition_verification,
        )
        if result.error is not ErrorCode.NONE or result.batch is None:
            return answer(result.error)
        batch = result.batch
        if transactional:
            # Pending transactional offsets count from the write on, not from replication:
            # Kafka's OffsetFetch with require_stable reads the coordinator's latest state,
            # uncommitted records included (GroupCoordinatorService.fetchOffsets runs it as a
            # write operation), so a new owner of the partition gets UNSTABLE_OFFSET_COMMIT
            # and waits, instead of reading offsets this transaction is about to move.
            self.replay(batch)

        def replicated() -> list[Outbound]:
            if not transactional:
                self.replay(batch)
            for o in offsets:
                self.host.record_event(
                    OffsetCommitEvent(
                        group_id,
                        f"{o.topic}-{o.partition}",
                        o.committed_offset,
                        producer_id,
                        not transactional,
                    )
                )
            return answer(ErrorCode.NONE)

        return self.host.when_replicated(partition, batch.last_offset, replicated)

    # -- OffsetFetch -----------------------------------------------------------------------------

    def handle_offset_fetch(self, request: OffsetFetchRequest, reply: Reply) -> list[Outbound]:
        if request.partitions is None:
            wanted = sorted(tp for group, tp in self.committed if group == request.group_id)
        else:
            wanted = list(request.partitions)
        unstable = (
            {key for entries in self.pending.values() for _, key, _ in entries}
            if request.require_stable
            else set()
        )
        fetched = []
        for tp in wanted:
            key = (request.group_id, tp)
            if key in unstable:
                fetched.append(
                    FetchedOffset(tp.topic, tp.partition, -1, ErrorCode.UNSTABLE_OFFSET_COMMIT)
                )
            else:
                fetched.append(FetchedOffset(tp.topic, tp.partition, self.committed.get(key, -1)))
        return reply(OffsetFetchResponse(request.correlation_id, ErrorCode.NONE, tuple(fetched)))

    # -- membership ------------------------------------------------------------------------------

    def handle_join_group(
        self, source: str, request: JoinGroupRequest, reply: Reply
    ) -> list[Outbound]:
        group = self._group(request.group_id)
        if not request.member_id:
            # JoinGroup v4+: hand out a member id and ask the client to rejoin with it.
            member_id = f"{source}-{group.next_member_number}"
            group.next_member_number += 1
            self._store_group(group)
            group.pending_member_ids.add(member_id)
            return reply(
                JoinGroupResponse(
                    request.correlation_id, ErrorCode.MEMBER_ID_REQUIRED, member_id=member_id
                )
            )
        if (
            request.member_id not in group.members
            and request.member_id not in group.pending_member_ids
        ):
            return reply(JoinGroupResponse(request.correlation_id, ErrorCode.UNKNOWN_MEMBER_ID))
        group.pending_member_ids.discard(request.member_id)
        member = group.members.get(request.member_id)
        if member is None:
            member = Member(
                request.member_id,
                request.session_timeout_ms,
                request.rebalance_timeout_ms,
                request.protocols,
                self.now_ms,
            )
            group.members[request.member_id] = member
        member.protocols = request.protocols
        member.pending_join = (source, request.correlation_id)
        member.last_heartbeat_ms = self.now_ms
        group.protocol_type = request.protocol_type
        if group.state is not GroupState.PREPARING_REBALANCE:
            self._prepare_rebalance(group)
        return self._maybe_complete_join(group)

    def _prepare_rebalance(self, group: Group) -> None:
        group.state = GroupState.PREPARING_REBALANCE
        timeout = max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
        group.rebalance_deadline_ms = self.now_ms + timeout
        for member in group.members.values():
            if member.pending_sync is not None:
                member.pending_sync = None  # their SyncGroup is answered by the rejoin

    def _maybe_complete_join(
        self, group: Group, *, deadline_passed: bool = False
    ) -> list[Outbound]:
        waiting = [m for m in group.members.values() if m.pending_join is None]
        if waiting and not deadline_passed:
            return []
        for member in waiting:
            del group.members[member.member_id]
        if not group.members:
            group.state = GroupState.EMPTY
            group.generation_id += 1
            self._store_group(group)
            return []
        group.generation_id += 1
        group.state = GroupState.COMPLETING_REBALANCE
        group.protocol_name = self._select_protocol(group)
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        self._store_group(group)
        out: list[Outbound] = []
        from kafka_eos.reference.node import Outbound

        everyone = tuple(
            JoinGroupMember(m.member_id, self._metadata_for(m, group.protocol_name))
            for m in group.members.values()
        )
        for member in group.members.values():
            assert member.pending_join is not None
            source, correlation_id = member.pending_join
            member.pending_join = None
            member.assignment = None
            response = JoinGroupResponse(
                correlation_id,
                ErrorCode.NONE,
                group.generation_id,
                group.protocol_type,
                group.protocol_name,
                group.leader_id,
                member.member_id,
                everyone if member.member_id == group.leader_id else (),
            )
            out.append(Outbound(source, response))
        return out

    @staticmethod
    def _select_protocol(group: Group) -> str | None:
        names: list[str] = [p.name for p in next(iter(group.members.values())).protocols]
        for name in names:
            if all(any(p.name == name for p in m.protocols) for m in group.members.values()):
                return name
        return names[0] if names else None

    @staticmethod
    def _metadata_for(member: Member, protocol: str | None) -> Any:
        for p in member.protocols:
            if p.name == protocol:
                return p.metadata
        return None

    def handle_sync_group(
        self, source: str, request: SyncGroupRequest, reply: Reply
    ) -> list[Outbound]:
        def answer(error: ErrorCode, assignment: Any = None) -> list[Outbound]:
            return reply(
                SyncGroupResponse(
                    request.correlation_id,
                    error,
                    assignment,
                    group.protocol_type if group else None,
                    group.protocol_name if group else None,
                )
            )

        group = self.groups.get(request.group_id)
        if group is None or request.member_id not in group.members:
            return answer(ErrorCode.UNKNOWN_MEMBER_ID)
        if request.generation_id != group.generation_id:
            return answer(ErrorCode.ILLEGAL_GENERATION)
        if group.state is GroupState.PREPARING_REBALANCE:
            return answer(ErrorCode.REBALANCE_IN_PROGRESS)
        member = group.members[request.member_id]
        member.last_heartbeat_ms = self.now_ms
        if group.state is GroupState.STABLE:
            return answer(ErrorCode.NONE, member.assignment)
        member.pending_sync = (source, request.correlation_id)
        if request.member_id != group.leader_id:
            return []
        for assignment in request.assignments:
            if assignment.member_id in group.members:
                group.members[assignment.member_id].assignment = assignment.assignment
        group.state = GroupState.STABLE
        self._store_group(group)  # with the assignments
        from kafka_eos.reference.node import Outbound

        out = []
        for m in group.members.values():
            if m.pending_sync is not None:
                src, correlation_id = m.pending_sync
                m.pending_sync = None
                out.append(
                    Outbound(
                        src,
                        SyncGroupResponse(
                            correlation_id,
                            ErrorCode.NONE,
                            m.assignment,
                            group.protocol_type,
                            group.protocol_name,
                        ),
                    )
                )
        return out

    def handle_heartbeat(self, request: HeartbeatRequest, reply: Reply) -> list[Outbound]:
        group = self.groups.get(request.group_id)
        if group is None or request.member_id not in group.members:
            error = ErrorCode.UNKNOWN_MEMBER_ID
        elif request.generation_id != group.generation_id:
            error = ErrorCode.ILLEGAL_GENERATION
        else:
            group.members[request.member_id].last_heartbeat_ms = self.now_ms
            rebalancing = group.state is GroupState.PREPARING_REBALANCE
            error = ErrorCode.REBALANCE_IN_PROGRESS if rebalancing else ErrorCode.NONE
        return reply(HeartbeatResponse(request.correlation_id, error))

    def handle_leave_group(self, request: LeaveGroupRequest, reply: Reply) -> list[Outbound]:
        group = self.groups.get(request.group_id)
        if group is None or request.member_id not in group.members:
            return reply(LeaveGroupResponse(request.correlation_id, ErrorCode.UNKNOWN_MEMBER_ID))
        out = self._remove_member(group, request.member_id)
        return out + reply(LeaveGroupResponse(request.correlation_id, ErrorCode.NONE))

    def _remove_member(self, group: Group, member_id: str) -> list[Outbound]:
        del group.members[member_id]
        if not group.members:
            group.state = GroupState.EMPTY
            group.generation_id += 1
            self._store_group(group)
            return []
        if group.state is not GroupState.PREPARING_REBALANCE:
            self._prepare_rebalance(group)
        return self._maybe_complete_join(group)

    def tick(self) -> list[Outbound]:
        out: list[Outbound] = []
        now = self.now_ms
        for group in self.groups.values():
            if group.state is GroupState.PREPARING_REBALANCE and now >= group.rebalance_deadline_ms:
                out += self._maybe_complete_join(group, deadline_passed=True)
            for member in list(group.members.values()):
                expired = now - member.last_heartbeat_ms > member.session_timeout_ms
                if expired and member.pending_join is None and member.member_id in group.members:
                    out += self._remove_member(group, member.member_id)
        return out


def _plain(value: Any) -> Any:
    """JSON form of member metadata and assignments (tuples become lists)."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuple(item) for item in value)
    return value
