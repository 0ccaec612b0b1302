"""What a requester agent is asked to do: originate one task (the workload drives this)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.agent.decide import AWARD_RULES, AwardRule
from orchestrator.errors import ConfigError
from orchestrator.sealing import MAX_CONTENT_BYTES

TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_PAYLOAD_BYTES = MAX_CONTENT_BYTES  # the contract's limit on a transient payload, less the salt
MAX_DEADLINE_S = 31_536_000


@dataclass(frozen=True, slots=True)
class TaskOrder:
    """One task to originate: its needs, deadline (seconds after it is requested) and how to award."""

    task_id: str
    cycles: int
    input_bytes: int
    deadline_s: int
    max_price: int
    delegate: bool = False  # let the Cloud award on the requester's behalf
    award_rule: AwardRule = "rank"
    max_reassign: int = 1  # times an expired task is put up again
    seed: int = 0  # the payload's bytes come from (seed, task_id)

    def __post_init__(self) -> None:
        if not TASK_ID.match(self.task_id):
            raise ConfigError(f"invalid task id {self.task_id!r}: must match {TASK_ID.pattern}")
        if self.cycles < 1:
            raise ConfigError(f"invalid cycles {self.cycles}: must be a positive number of CPU cycles")
        if not 1 <= self.input_bytes <= MAX_PAYLOAD_BYTES:
            raise ConfigError(f"invalid input size {self.input_bytes} bytes: must be 1 to {MAX_PAYLOAD_BYTES}")
        if self.deadline_s < 1:
            raise ConfigError(f"invalid deadline {self.deadline_s} s: the deadline must be in the future")
        if self.deadline_s > MAX_DEADLINE_S:
            raise ConfigError(f"invalid deadline {self.deadline_s} s: at most {MAX_DEADLINE_S} s (a year)")
        if self.max_price < 1:
            raise ConfigError(f"invalid max price {self.max_price}: must be at least 1 credit")
        if self.award_rule not in AWARD_RULES:
            raise ConfigError(f"invalid award rule {self.award_rule!r}: use {' or '.join(AWARD_RULES)}")
        if not 0 <= self.max_reassign <= 10:
            raise ConfigError(f"invalid max_reassign {self.max_reassign}: must be 0 to 10")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> TaskOrder:
        """Parse a JSON object (an HTTP body); every problem is a ConfigError with one clear line."""
        if not isinstance(data, dict):
            raise ConfigError("a task order must be a JSON object")
        fields = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(f"unknown field(s) in task order: {', '.join(unknown)}")
        missing = sorted(f for f in ("task_id", "cycles", "input_bytes", "deadline_s", "max_price") if f not in data)
        if missing:
            raise ConfigError(f"task order lacks {', '.join(missing)}")
        for key in ("cycles", "input_bytes", "deadline_s", "max_price", "max_reassign", "seed"):
            if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int)):
                raise ConfigError(f"invalid {key} {data[key]!r}: must be an integer")
        for key in ("delegate",):
            if key in data and not isinstance(data[key], bool):
                raise ConfigError(f"invalid {key} {data[key]!r}: must be true or false")
        if not isinstance(data["task_id"], str):
            raise ConfigError(f"invalid task id {data['task_id']!r}: must be a string")
        return cls(**data)
