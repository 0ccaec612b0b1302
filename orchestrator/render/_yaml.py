"""Deterministic YAML output shared by the renderers."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order, no aliases (configtxgen and compose read plain YAML)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class Octal(int):
    """A file mode, written as YAML 1.1 octal (``0444``) so it reads like ``chmod``."""


def _octal(dumper: yaml.SafeDumper, value: Octal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:int", f"0{int(value):o}")


_Dumper.add_representer(Octal, _octal)


def dump(data: Any, *, header: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + body
