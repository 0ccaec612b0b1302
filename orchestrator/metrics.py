"""Fabric's operations endpoints: ``/healthz`` and Prometheus ``/metrics``."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

log = logging.getLogger(__name__)

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


def parse_prometheus(text: str) -> list[Sample]:
    """Parse the Prometheus text exposition format (the subset Fabric emits)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        labels = tuple(sorted(_LABEL.findall(match.group(3) or "")))
        try:
            value = float(match.group(4))
        except ValueError:
            continue
        samples.append(Sample(match.group(1), labels, value))
    return samples


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the first sample called ``name`` whose labels include ``labels``."""
    for sample in samples:
        if sample.name == name and all(sample.label(k) == v for k, v in labels.items()):
            return sample.value
    return None


def _get(url: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def healthz(host: str, port: int, *, timeout: float = 2.0) -> tuple[bool, str]:
    """(healthy, detail) from a node's ``/healthz``; unreachable counts as unhealthy."""
    try:
        status, body = _get(f"http://{host}:{port}/healthz", timeout)
    except (OSError, urllib.error.URLError) as exc:
        log.debug("healthz %s:%d: %s", host, port, exc)
        return False, "unreachable"
    if status == 200:
        return True, "OK"
    try:
        checks = json.loads(body).get("failed_checks", [])
        return False, "; ".join(f"{c.get('component')}: {c.get('reason')}" for c in checks) or f"HTTP {status}"
    except (ValueError, AttributeError):
        return False, f"HTTP {status}"


def scrape(host: str, port: int, *, timeout: float = 2.0) -> list[Sample]:
    """All samples of a node's ``/metrics``; empty when the node cannot be reached."""
    try:
        status, body = _get(f"http://{host}:{port}/metrics", timeout)
    except (OSError, urllib.error.URLError):
        return []
    return parse_prometheus(body) if status == 200 else []
