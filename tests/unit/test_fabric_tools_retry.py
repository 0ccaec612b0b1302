"""fabric_tools.retry: a node that just became healthy may reset its first connections."""

from __future__ import annotations

import pytest

from orchestrator.fabric_tools import ToolError, retry


def test_retry_goes_on_until_the_call_succeeds() -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ToolError("osnadmin", ["channel", "list"], "read: connection reset by peer")

    retry("osnadmin join", flaky, timeout=5, interval=0)
    assert len(calls) == 3


def test_retry_raises_the_last_error_after_the_timeout_and_lets_other_errors_through() -> None:
    def down() -> None:
        raise ToolError("osnadmin", ["channel", "list"], "connection refused")

    with pytest.raises(ToolError, match="connection refused"):
        retry("osnadmin join", down, timeout=0.05, interval=0.01)

    def bug() -> None:
        raise KeyError("not a tool failure")

    with pytest.raises(KeyError):
        retry("osnadmin join", bug, timeout=5, interval=0)
