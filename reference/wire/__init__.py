"""The reference broker on Kafka's wire protocol: a thin asyncio adapter over the sans-I/O core.

Run it and point any Kafka client at it::

    kafka-eos serve --port 9092 --history run.jsonl          # memory logs
    kafka-eos serve --data-dir ./data --admin-port 9093       # durable; faults at run time
    kafka-eos validate run.jsonl                              # exit 0 ok, 1 violated

One node: leader of every partition, coordinator of every transactional.id and group; topics
are created on first use or with CreateTopics. Every Kafka rule is the core's
(:mod:`kafka_eos.reference.node`); this package only frames, decodes, translates and encodes.

Modules, bottom up:

- :mod:`.framing`: size-prefixed frames, sans-I/O, with a maximum size;
- :mod:`.entities`: version-independent dicts <-> kio's per-version entity classes;
- :mod:`.codec`: request headers, the advertised version ranges, request decoding and
  response encoding for the version asked (ApiVersions fallback to v0 with error 35);
- :mod:`.records`: RecordBatch v2 (CRC32C, base-offset rewrite, control batches);
- :mod:`.server`: the asyncio adapter (connections, handlers, Fetch long poll, ticks);
- :mod:`.faults`: lost responses, delays, cut connections, crashes, failover, expiry;
- :mod:`.history_log`: the history (JSON lines the checker validates) and the request log;
- :mod:`.app`: assembling node, storage, clock, listener and admin port for ``serve``.
"""
