"""The executable reference implementation of Kafka's exactly-once protocol, sans-I/O.

Written independently of the model (it imports only ``kafka_eos.protocol``: sequence
arithmetic, error codes, the coordinator and client state tables), so that comparing the two
finds real disagreements. One concept per module:

====================== =========================================================================
``messages``           one frozen dataclass per request/response (contract E)
``node``               ``BrokerNode`` (receive / tick / replicate / fail_over_coordinator /
                       expire_producer / startup), ``BrokerConfig`` (the protocol knobs
                       of protocol/knobs.py and the broker's settings), ``Outbound``
``partition``          a partition as its leader sees it: log + producer state, LSO
``log``                batches at leader-assigned offsets, high watermark, aborted index
``producer_state``     per-producer state and the Produce checks in Kafka's order
``txn_metadata``       TransactionMetadata / TxnTransit (two-phase transitions, log records)
``txn_coordinator``    InitProducerId, AddPartitionsToTxn (+verify), AddOffsetsToTxn, EndTxn
                       (TV1/TV2), markers, timeouts, failover
``group_coordinator``  offsets (plain and transactional), OffsetFetch, Join/Sync/Heartbeat/Leave
``storage``            ``MemoryStorage`` / ``FileStorage`` (checksummed lines, MANIFEST)
``clock``              ``VirtualClock`` / ``SystemClock``
``producer``           ``KafkaProducer`` (Java API shape; transaction manager; idempotent retries)
``consumer``           ``KafkaConsumer`` (assign/subscribe, poll, position, isolation levels)
``futures``            ``Future`` returned by client operations; ``KafkaError``
``network``            ``SimNetwork``: deterministic, per-connection FIFO, seeded faults
``workload``           the simulation's applications (writers, copy app, readers)
``invariants``         internal invariants and history checks of a run
``simulation``         ``run_simulation(seed=, steps=, config=)`` and the named configurations
====================== =========================================================================

For a wire adapter: build ``BrokerNode(node_id=..., config=BrokerConfig(...), clock=SystemClock(),
storage=FileStorage(data_dir))``; for each decoded request call ``node.receive(client, message)``;
deliver every returned ``Outbound`` whose destination is the node's own id back through
``node.receive(node.node_id, message)`` (markers, KIP-890 verification), send the others to the
client; call ``node.tick()`` periodically (timeouts, marker retries, messages due after a
restart); ``node.drain_events()`` yields the history events (appends, markers, offset commits).

For a conformance driver, every protocol step is a separate call on plain, inspectable state:
deliver one chosen message (``SimNetwork.deliver(index)`` or ``node.receive``), replicate
(``BrokerConfig(deferred_replication=True)`` + ``node.replicate()``: the window in which a
coordinator transition is pending), time (``clock.advance`` + ``tick``), faults
(``fail_over_coordinator``, ``expire_producer``, a new ``BrokerNode`` on the same storage, a new
client with the same transactional.id). State lives in plain attributes: ``node.partitions[tp]``
(``.log.batches``, ``.high_watermark``, ``.last_stable_offset``, ``.log.aborted``,
``.producers.entries[pid]``), ``node.txn_coordinator.transactions[tid]`` (``state``,
``pending_state``, ``producer_id``, ``producer_epoch``, ``partitions``),
``node.txn_coordinator.coordinator_epoch``, ``node.group_coordinator.committed`` / ``pending``,
``producer.txn_state`` / ``producer_id`` / ``producer_epoch`` / ``books``,
``consumer.positions``.
"""
