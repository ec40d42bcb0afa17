"""Network messages as readable text (for labels, traces and error messages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codes import error_name
from .layout import (
    API_NAMES,
    M_COORDINATOR_REQUEST,
    M_COORDINATOR_RESPONSE,
    M_MARKER,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    Tup,
)

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


def describe(m: KafkaEosModel, message: Tup) -> str:
    """A short readable name of ``message``: its kind, then its fields."""
    kind = message[0]
    if kind == M_PRODUCE:
        _, proc, part, _pid, epoch, seq, rec, _txn, connection = message
        return (
            f"Produce,{m.process_names[proc]},{m.partition_names[part]},"
            f"r{rec},e{epoch},s{seq},c{connection}"
        )
    if kind == M_PRODUCE_RESPONSE:
        _, proc, part, epoch, seq, rec, err, offset, connection = message
        return (
            f"ProduceResponse,{m.process_names[proc]},{m.partition_names[part]},"
            f"r{rec},c{connection},{error_name(err)},o{offset}"
        )
    if kind == M_COORDINATOR_REQUEST:
        _, proc, api, epoch, _arg, _txn = message
        return f"{API_NAMES[api]},{m.process_names[proc]},e{epoch}"
    if kind == M_COORDINATOR_RESPONSE:
        _, proc, api, err, epoch, _txn = message
        return f"{API_NAMES[api]}Response,{m.process_names[proc]},{error_name(err)},e{epoch}"
    if kind == M_MARKER:
        _, part, tid, cepoch, epoch, commit = message
        return (
            f"WriteTxnMarkers,{m.partition_names[part]},{m.transactional_ids[tid]},"
            f"{'COMMIT' if commit else 'ABORT'},e{epoch},ce{cepoch}"
        )
    _, part, tid, cepoch, err = message
    return (
        f"WriteTxnMarkersResponse,{m.partition_names[part]},"
        f"{m.transactional_ids[tid]},{error_name(err)},ce{cepoch}"
    )
