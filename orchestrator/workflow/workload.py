"""The workload of a run: which edge requests which task when, drawn from one seed.

The same seed gives the same tasks (arrival offsets, requester, cycles, input size and bytes,
deadline, delegation) whatever the policy, so a run can be replayed with another policy and the
two compared task by task. Arrivals are Poisson at ``rate_hz`` (open workload: a task is sent at
its time whether or not earlier ones finished) or evenly spaced.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.agent.decide import AwardRule
from orchestrator.agent.orders import MAX_DEADLINE_S, MAX_PAYLOAD_BYTES, TaskOrder
from orchestrator.errors import ConfigError


class WorkloadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    count: int = Field(200, ge=1, le=100_000, description="tasks in the run")
    rate_hz: float = Field(5.0, gt=0, le=1000, description="mean arrival rate [tasks/s]")
    arrivals: Literal["poisson", "uniform"] = "poisson"
    seed: int = Field(1, ge=0, le=2**31)
    cycles_min: int = Field(100_000_000, ge=1, description="CPU demand lower bound [cycles]")
    cycles_max: int = Field(800_000_000, ge=1, description="CPU demand upper bound [cycles]")
    input_min: int = Field(16 * 1024, ge=1, le=MAX_PAYLOAD_BYTES, description="input size lower bound [bytes]")
    input_max: int = Field(256 * 1024, ge=1, le=MAX_PAYLOAD_BYTES, description="input size upper bound [bytes]")
    deadline_min_s: int = Field(30, ge=1, le=MAX_DEADLINE_S, description="deadline lower bound [s after request]")
    deadline_max_s: int = Field(60, ge=1, le=MAX_DEADLINE_S, description="deadline upper bound [s]")
    delegate_share: float = Field(0.25, ge=0, le=1, description="share of tasks whose award the Cloud makes")
    max_price_per_gigacycle: int = Field(100, ge=1, description="what requesters pay at most [credits/1e9 cycles]")
    max_reassign: int = Field(1, ge=0, le=10, description="times an expired task is put up again")
    requesters: tuple[str, ...] = Field((), description="edges that originate tasks (empty: every edge)")

    @model_validator(mode="after")
    def _ranges(self) -> WorkloadConfig:
        for low, high in (
            ("cycles_min", "cycles_max"),
            ("input_min", "input_max"),
            ("deadline_min_s", "deadline_max_s"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} {getattr(self, low)} is above {high} {getattr(self, high)}")
        return self


def parse_workload(data: dict[str, object]) -> WorkloadConfig:
    """Validate a workload; one ConfigError naming the field."""
    try:
        return WorkloadConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "workload"
        raise ConfigError(f"invalid workload: {where}: {err['msg']}") from None


@dataclass(frozen=True, slots=True)
class PlannedTask:
    index: int
    offset_s: float  # after the start of the run
    requester: str  # edge org name
    order: TaskOrder


def generate(
    config: WorkloadConfig, edges: Sequence[str], *, run_id: str, award_rule: AwardRule = "rank"
) -> list[PlannedTask]:
    """The run's tasks, in arrival order. ``edges`` are the edge org names of the network."""
    requesters = list(config.requesters) or list(edges)
    unknown = [r for r in requesters if r not in edges]
    if unknown:
        raise ConfigError(f"unknown requester(s) {', '.join(unknown)}: this network has {', '.join(edges)}")
    if len(edges) < 2:
        raise ConfigError("task sharing needs at least two edges")
    rng = random.Random(config.seed)
    plan: list[PlannedTask] = []
    offset = 0.0
    for i in range(config.count):
        gap = rng.expovariate(config.rate_hz) if config.arrivals == "poisson" else 1.0 / config.rate_hz
        offset = 0.0 if i == 0 else offset + gap
        requester = rng.choice(requesters)
        cycles = rng.randint(config.cycles_min, config.cycles_max)
        input_bytes = rng.randint(config.input_min, config.input_max)
        deadline = rng.randint(config.deadline_min_s, config.deadline_max_s)
        delegate = rng.random() < config.delegate_share
        payload_seed = rng.randrange(1, 2**62)
        plan.append(
            PlannedTask(
                index=i,
                offset_s=offset,
                requester=requester,
                order=TaskOrder(
                    task_id=f"{run_id}-{i:05d}",
                    cycles=cycles,
                    input_bytes=input_bytes,
                    deadline_s=deadline,
                    max_price=max(1, math.ceil(config.max_price_per_gigacycle * cycles / 1e9)),
                    delegate=delegate,
                    award_rule=award_rule,
                    max_reassign=config.max_reassign,
                    seed=payload_seed,
                ),
            )
        )
    return plan
