"""A benchmark definition (``benchmarks/*.yaml``) as typed, validated data.

Example::

    name: seed-sweep
    workers: 2                      # load-generator processes
    clients: {orgs: [Edge1, Edge2, Edge3, Edge4], user: User1}
    rounds:
      - label: write-50tps
        tx_count: 600               # or duration_s: 30
        rate: {type: fixed-rate, tps: 50}
        workload: {type: request-task}

Errors name the offending field: ``rounds.1.rate: tps: Input should be greater than 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestrator.bench.rates import RateOptions, parse_rate_options
from orchestrator.bench.workloads import WorkloadOptions, parse_workload_options
from orchestrator.errors import ConfigError

__all__ = ["BenchConfig", "ClientsSpec", "RoundSpec", "SamplerSpec", "load_config", "parse_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientsSpec(_Strict):
    """Whose identities send: every worker opens one connection per org, to that org's peer."""

    orgs: list[str] = Field(default_factory=lambda: ["Edge1", "Edge2", "Edge3", "Edge4"], min_length=1)
    user: str = Field("User1", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

    @field_validator("orgs")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen = {v.lower() for v in value}
        if len(seen) != len(value):
            raise ValueError("org names must be unique")
        return value


class SamplerSpec(_Strict):
    """Resource sampling: docker stats of every container, and Fabric /metrics before and after each round."""

    interval_s: float = Field(1.0, ge=0.2, le=60)
    docker: bool = True
    fabric_metrics: bool = True


class RoundSpec(_Strict):
    """One round: a label, how long (a transaction count or a duration), a rate controller, a workload."""

    label: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    tx_count: int | None = Field(None, ge=1, le=10_000_000)
    duration_s: float | None = Field(None, gt=0, le=86_400)
    rate: SerializeAsAny[RateOptions]
    workload: SerializeAsAny[WorkloadOptions]

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> RateOptions:
        options: RateOptions = _nested(parse_rate_options, value)
        return options

    @field_validator("workload", mode="before")
    @classmethod
    def _workload(cls, value: Any) -> WorkloadOptions:
        options: WorkloadOptions = _nested(parse_workload_options, value)
        return options

    @model_validator(mode="after")
    def _length(self) -> RoundSpec:
        if (self.tx_count is None) == (self.duration_s is None):
            raise ValueError("give exactly one of tx_count and duration_s")
        return self


class BenchConfig(_Strict):
    """A whole benchmark: rounds run one after the other by the same worker processes."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    workers: int = Field(2, ge=1, le=64, description="Load-generator processes, each with its own event loop.")
    clients: ClientsSpec = ClientsSpec()
    sampler: SamplerSpec = SamplerSpec()
    max_in_flight: int = Field(
        4000, ge=1, le=1_000_000, description="Per worker: an open schedule waits when this many are outstanding."
    )
    commit_timeout_s: float = Field(60.0, gt=0, le=3600, description="How long to wait for a commit status.")
    rounds: list[RoundSpec] = Field(min_length=1)

    @field_validator("rounds")
    @classmethod
    def _unique_labels(cls, rounds: list[RoundSpec]) -> list[RoundSpec]:
        labels = [r.label for r in rounds]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"round labels must be unique; repeated: {', '.join(duplicates)}")
        return rounds

    def dump(self) -> dict[str, Any]:
        """The resolved config (defaults filled in) as plain data, for the results folder."""
        return self.model_dump(mode="json")


def _nested(parse: Any, value: Any) -> Any:
    """Run a registry's nested validation; its errors become one ValueError, one ``.field: message`` a line."""
    try:
        return parse(value)
    except ValidationError as exc:
        lines = [f".{'.'.join(str(p) for p in err['loc'])}: {_message(err['msg'])}" for err in exc.errors()]
        raise ValueError("\n".join(lines)) from None


def _message(msg: str) -> str:
    return str(msg).removeprefix("Value error, ")


def _describe(exc: ValidationError) -> str:
    """``loc: message`` for every problem; a nested registry's ``.field`` lines extend the outer location."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        for line in _message(err["msg"]).splitlines():
            if line.startswith(".") and loc:
                problems.append(f"{loc}{line}")
            else:
                problems.append(f"{loc}: {line}" if loc else line)
    return "; ".join(problems)


def parse_config(data: Any, *, source: str = "(inline)") -> BenchConfig:
    """Validate plain data (e.g. parsed YAML) into a :class:`BenchConfig`, or a ConfigError naming the fields."""
    try:
        return BenchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid benchmark config {source}: {_describe(exc)}") from None


def load_config(path: Path) -> BenchConfig:
    """Read and validate a benchmark YAML file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read benchmark config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"benchmark config {path} is not valid YAML: {exc}") from None
    return parse_config(data, source=str(path))
