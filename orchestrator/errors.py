"""The one error hierarchy of mec-fabric.

Library code raises these; ``orchestrator.cli`` maps each class to an exit code and prints
one clear line (the exception's message), so messages must say what was wrong and what to do.
"""

from __future__ import annotations


class MecFabError(Exception):
    """Base of every error mec-fabric raises on purpose."""

    exit_code = 1


class ConfigError(MecFabError):
    """Bad input: a topology, a name, an option or a file the user gave."""

    exit_code = 2


class EnvironmentProblem(MecFabError):
    """The machine lacks something: Docker, a binary, a free port, a built image."""

    exit_code = 3


class NetworkError(MecFabError):
    """The Fabric network did something unexpected: a node not ready, a command failing."""

    exit_code = 4


class LedgerError(MecFabError):
    """A transaction or query failed (see the gateway's per-phase subclasses)."""

    exit_code = 5
