"""Deterministic YAML output shared by the renderers."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order, no aliases (configtxgen and compose read plain YAML)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any, *, header: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + body
