"""Every parameter of the simulator and of the DDPG agent, each with a default and a unit.

Two pydantic models, validated the same way: ``SimConfig`` holds the latency model of section IV
(equations 1-5) and the workload; ``DdpgConfig`` holds the hyperparameters of Algorithm 1. Both are
frozen, refuse unknown keys, NaN and infinities, and check ranges. ``parse_sim_config`` and
``parse_ddpg_config`` turn pydantic's error into one :class:`~orchestrator.errors.ConfigError`
whose message names the offending field, which is what the CLI prints.

Symbols follow the paper's Table I; the unit is in each field's description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

OptimizerName = Literal["adam", "sgd", "rmsprop", "adagrad"]
OPTIMIZERS: tuple[OptimizerName, ...] = ("adam", "sgd", "rmsprop", "adagrad")
Architecture = Literal["mlp", "per-node"]

# The largest exponent of eq. 2 the config accepts; model.block_generation_cycles itself never
# overflows (it saturates to infinity), this only keeps configured values meaningful.
MAX_BLOCK_TRANSACTIONS = 60


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, validate_default=True)

    def with_updates(self, **changes: object) -> Self:
        """A copy with ``changes`` applied and validated again (``model_copy`` does not validate)."""
        return _parse(type(self), {**self.model_dump(), **changes})


class SimConfig(_Strict):
    """The latency model (section IV) and the task workload."""

    # --- the cluster
    n_nodes: int = Field(5, ge=1, le=64, description="N: edge nodes in the cluster [count]")
    capacity_min_hz: float = Field(
        1.0e9, gt=0, description="ι lower bound: CPU cycles per second of the slowest node [cycles/s]"
    )
    capacity_max_hz: float = Field(
        4.0e9, gt=0, description="ι upper bound: CPU cycles per second of the fastest node [cycles/s]"
    )
    area_m: float = Field(1000.0, gt=0, description="side of the square the nodes are placed in [m]")
    min_distance_m: float = Field(10.0, gt=0, description="floor on d(l,f) so the path loss stays finite [m]")
    # --- eq. 1: migration from the cloud to the executor
    backhaul_bps: float = Field(1.0e9, gt=0, description="β: fiber rate from the cloud to a node [bit/s]")
    # --- eq. 2: block generation
    block_transactions: int = Field(
        10, ge=0, le=MAX_BLOCK_TRANSACTIONS, description="N of eq. 2: transactions per block [count]"
    )
    cycles_per_hash: float = Field(1.0e5, gt=0, description="ν: CPU cycles per hash operation [cycles]")
    # --- eq. 3-4: the wireless links between leader and followers
    bandwidth_hz: float = Field(20.0e6, gt=0, description="B: total bandwidth of the leader [Hz]")
    transmit_power_w: float = Field(0.5, gt=0, description="W: total transmit power of the leader [W]")
    path_loss_exponent: float = Field(3.5, gt=0, le=8, description="ϱ: path-loss exponent [-]")
    shadowing_std_db: float = Field(
        8.0, ge=0, le=30, description="σ of the log-normal shadowing Υ = 10^(X/10), X~N(0,σ²) [dB]"
    )
    noise_psd_w_per_hz: float = Field(
        3.98e-21, gt=0, description="M0: noise power spectral density (-174 dBm/Hz) [W/Hz]"
    )
    # --- eq. 5: consensus messages
    append_bits: float = Field(1.6e7, gt=0, description="H: size of an AppendEntries message (a 2 MB block) [bit]")
    ack_bits: float = Field(8.0e3, gt=0, description="U: size of the confirmation message [bit]")
    # --- the workload
    arrival_rate_hz: float = Field(6.0, gt=0, description="λ: Poisson task arrival rate [tasks/s]")
    items_min: int = Field(1, ge=1, description="|Z| lower bound: items a task migrates [count]")
    items_max: int = Field(10, ge=1, description="|Z| upper bound: items a task migrates [count]")
    item_bits_min: float = Field(0.5e6, gt=0, description="K lower bound: size of one item [bit]")
    item_bits_max: float = Field(2.0e6, gt=0, description="K upper bound: size of one item [bit]")
    task_cycles_min: float = Field(2.0e8, gt=0, description="CPU demand lower bound of a task [cycles]")
    task_cycles_max: float = Field(2.0e9, gt=0, description="CPU demand upper bound of a task [cycles]")
    deadline_s: float = Field(2.0, gt=0, description="deadline of every task, from its arrival [s]")
    deadline_penalty_s: float = Field(
        1.0, ge=0, description="extra negative reward for a missed deadline [s of latency]"
    )

    @model_validator(mode="after")
    def _ranges(self) -> SimConfig:
        for low, high in (
            ("capacity_min_hz", "capacity_max_hz"),
            ("items_min", "items_max"),
            ("item_bits_min", "item_bits_max"),
            ("task_cycles_min", "task_cycles_max"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} ({getattr(self, low)}) must not exceed {high} ({getattr(self, high)})")
        if self.min_distance_m > self.area_m:
            raise ValueError(f"min_distance_m ({self.min_distance_m}) must not exceed area_m ({self.area_m})")
        return self


class DdpgConfig(_Strict):
    """Hyperparameters of Algorithm 1 (DDPG with action refinement)."""

    architecture: Architecture = Field(
        "per-node",
        description="'mlp': actor/critic see the flat state; 'per-node': one small network scores "
        "every node from its own features (shared weights) [-]",
    )
    hidden: int = Field(64, ge=4, le=1024, description="width of each hidden layer [units]")
    actor_lr: float = Field(1.0e-3, gt=0, le=1, description="α2: actor learning rate [-]")
    critic_lr: float = Field(1.0e-3, gt=0, le=1, description="α1: critic learning rate [-]")
    discount: float = Field(0.9, ge=0, lt=1, description="λ: discount factor [-]")
    soft_update: float = Field(
        0.99, ge=0, lt=1, description="κ: share of a target network kept at each update, ψ' = κψ' + (1-κ)ψ [-]"
    )
    replay_size: int = Field(50_000, ge=1, description="capacity of the experience deque δ [transitions]")
    batch_size: int = Field(128, ge=1, description="mini-batch e sampled from δ [transitions]")
    warmup_steps: int = Field(1_000, ge=0, description="γ: steps of random actions before updates start [steps]")
    update_every: int = Field(4, ge=1, description="environment steps between mini-batch updates [steps]")
    noise_std: float = Field(0.2, ge=0, description="σ of the Gaussian exploration noise g [action units]")
    refine_radius: float = Field(0.3, ge=0, description="δ of eq. 7: L2 radius of the refinement ball [-]")
    refine_candidates: int = Field(
        16, ge=0, le=1024, description="actions sampled in the ball for eq. 7; 0 turns refinement off [count]"
    )
    optimizer: OptimizerName = Field("adam", description="optimizer of both networks [-]")
    grad_clip: float = Field(1.0, gt=0, description="max L2 norm of a gradient step [-]")
    rate_jitter: float = Field(
        0.5, ge=0, lt=1, description="training draws each episode's λ uniformly in λ·(1 ± rate_jitter) [-]"
    )
    threads: int = Field(1, ge=1, le=64, description="torch CPU threads [count]")


def _parse(model: type[M], data: Mapping[str, object]) -> M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_describe(model.__name__, exc)) from None


def _describe(name: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "(config)"
        got = f" (got {error['input']!r})" if error["type"] not in ("missing", "value_error") else ""
        parts.append(f"{field}: {error['msg']}{got}")
    return f"invalid {name}: " + "; ".join(parts)


def parse_sim_config(data: Mapping[str, object]) -> SimConfig:
    """Validate ``data``; raise ConfigError naming each bad field."""
    return _parse(SimConfig, data)


def parse_ddpg_config(data: Mapping[str, object]) -> DdpgConfig:
    """Validate ``data``; raise ConfigError naming each bad field."""
    return _parse(DdpgConfig, data)


def parameter_table(model: type[BaseModel]) -> list[tuple[str, str, str]]:
    """(field, default, description with unit) of every parameter, for docs and ``--help``."""
    rows = []
    for name, info in model.model_fields.items():
        rows.append((name, repr(info.default), info.description or ""))
    return rows
