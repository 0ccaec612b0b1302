"""An edge agent's secret: random, one file of mode 0400 per org in the network's state directory
(``StateDir.agent_secret``). Whoever can read it may act for the org through its agent; it is never
printed or logged."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from orchestrator.errors import ConfigError

SECRET_BYTES = 32


def ensure_secret(path: Path) -> None:
    """Create an agent secret at ``path`` (random, mode 0400) unless one is there."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(SECRET_BYTES) + "\n")


def read_secret(path: Path) -> str:
    """The agent secret in ``path``; ConfigError (naming the file, never its content) if unusable."""
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the agent secret {path}: {exc.strerror}") from None
    if len(value) < 32:
        raise ConfigError(f"the agent secret {path} is empty or too short (at least 32 characters)")
    return value
