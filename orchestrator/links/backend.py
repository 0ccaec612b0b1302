"""The one interface every link mechanism implements."""

from __future__ import annotations

from typing import Protocol

from orchestrator.links.settings import Link
from orchestrator.topology import Node


class LinkBackend(Protocol):
    """Imposes, reads back and clears the emulated link of one edge peer."""

    name: str

    def check(self, node: Node) -> None:
        """Raise (EnvironmentProblem/NetworkError) if the link of ``node`` cannot be set now."""

    def apply(self, node: Node, link: Link) -> None:
        """Replace whatever link ``node`` had with ``link``."""

    def read(self, node: Node) -> Link:
        """The link in force now, read from the mechanism itself (not from what was asked)."""

    def clear(self, node: Node) -> None:
        """Remove every emulation from ``node``'s link."""
