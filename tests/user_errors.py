"""What a user error looks like from outside, asserted the same way by every test that provokes
one: exit 2 and one line ``kafka-eos: error: ...`` on stderr, never a traceback."""

from __future__ import annotations

from kafka_eos.cli.main import EXIT_USAGE


def assert_one_line_error(code: int, err: str) -> str:
    """Assert the command ended as a user error does (``code`` and its stderr ``err``) and
    return that one line, without its newline."""
    assert code == EXIT_USAGE, (code, err)
    assert err.startswith("kafka-eos: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")
