"""What a link is: delay, jitter, loss and rate, given directly or derived from the radio model.

The radio model is the simulator's (``orchestrator.sim``): the same :class:`SimConfig` fields and
units (B in Hz, W in watts, ϱ, M0 in W/Hz), and the same functions ``snr`` (eq. 4) and
``link_rate`` (eq. 3). A link's ``radio`` block names a distance (and optionally a shadowing draw
and the number of followers sharing the leader's bandwidth); every other radio parameter defaults
to ``SimConfig``'s default and may be overridden by the same field name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.errors import ConfigError
from orchestrator.sim.config import SimConfig

PROFILE_DIR = Path(__file__).resolve().parent.parent.parent / "network" / "links"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RadioLink(_Strict):
    """A wireless link of the simulator's model; the rate follows from eqs. 3-4."""

    distance_m: float = Field(gt=0, description="d(l,f): distance between the two nodes [m]")
    shadowing_db: float = Field(0.0, ge=-60, le=60, description="X: this link's shadowing draw [dB]")
    followers: int = Field(1, ge=1, le=64, description="F_l: followers sharing the leader's bandwidth [count]")
    # Same names, units and defaults as SimConfig; None means SimConfig's default.
    bandwidth_hz: float | None = Field(None, gt=0, description="B [Hz]")
    transmit_power_w: float | None = Field(None, gt=0, description="W [W]")
    path_loss_exponent: float | None = Field(None, gt=0, le=8, description="ϱ [-]")
    noise_psd_w_per_hz: float | None = Field(None, gt=0, description="M0 [W/Hz]")

    def sim_config(self) -> SimConfig:
        """The simulator config these radio parameters stand for (defaults from SimConfig)."""
        names = ("bandwidth_hz", "transmit_power_w", "path_loss_exponent", "noise_psd_w_per_hz")
        given = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        return SimConfig().with_updates(**given)

    def rate_bps(self) -> float:
        """R(l,f) = (B/F) log2(1 + W d^-ϱ Υ / (B M0)), in bit/s (eqs. 3-4)."""
        from orchestrator.sim.model import link_rate, shadowing_gain, snr  # numpy: only when used

        c = self.sim_config()
        rho = snr(
            transmit_power_w=c.transmit_power_w,
            distance_m=self.distance_m,
            path_loss_exponent=c.path_loss_exponent,
            shadowing=shadowing_gain(self.shadowing_db),
            bandwidth_hz=c.bandwidth_hz,
            noise_psd_w_per_hz=c.noise_psd_w_per_hz,
        )
        return float(link_rate(c.bandwidth_hz, self.followers, rho))


class LinkSpec(_Strict):
    """One edge's link as written in the topology or a profile file."""

    delay_ms: int = Field(0, ge=0, le=60_000, description="added round-trip delay [ms]")
    jitter_ms: int = Field(0, ge=0, le=60_000, description="± uniform jitter on that delay [ms]")
    loss_pct: float = Field(0.0, ge=0, le=100, description="loss [%] (approximate with Toxiproxy, see README)")
    rate_mbit: float | None = Field(None, gt=0, le=100_000, description="rate limit [Mbit/s]; none: unlimited")
    radio: RadioLink | None = Field(None, description="derive the rate from the radio model instead")

    @model_validator(mode="after")
    def _one_rate(self) -> LinkSpec:
        if self.rate_mbit is not None and self.radio is not None:
            raise ValueError("give rate_mbit or radio, not both")
        if self.jitter_ms > self.delay_ms:
            raise ValueError(f"jitter_ms ({self.jitter_ms}) must not exceed delay_ms ({self.delay_ms})")
        return self

    def resolve(self) -> Link:
        rate = self.radio.rate_bps() if self.radio is not None else None
        if self.rate_mbit is not None:
            rate = self.rate_mbit * 1e6
        return Link(delay_ms=self.delay_ms, jitter_ms=self.jitter_ms, loss_pct=self.loss_pct, rate_bps=rate)


@dataclass(frozen=True)
class Link:
    """A resolved link: what a backend imposes. ``rate_bps`` None means unlimited."""

    delay_ms: int = 0
    jitter_ms: int = 0
    loss_pct: float = 0.0
    rate_bps: float | None = None

    @property
    def is_clear(self) -> bool:
        return self == Link()

    def describe(self) -> str:
        if self.is_clear:
            return "clear"
        parts = [f"delay {self.delay_ms} ms"]
        if self.jitter_ms:
            parts.append(f"jitter ±{self.jitter_ms} ms")
        if self.loss_pct:
            parts.append(f"loss {self.loss_pct:g} %")
        parts.append("rate unlimited" if self.rate_bps is None else f"rate {format_rate(self.rate_bps)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "loss_pct": self.loss_pct,
            "rate_mbit": None if self.rate_bps is None else round(self.rate_bps / 1e6, 6),
        }


def format_rate(bps: float) -> str:
    for unit, scale in (("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.4g} {unit}/s"
    return f"{bps:.4g} bit/s"


# ---- command-line values ---------------------------------------------------------------------
_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(us|ms|s)?$")
_RATE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)?$", re.IGNORECASE)
_PERCENT = re.compile(r"^(-?\d+(?:\.\d+)?)\s*%?$")
_RATE_SCALE = {"bit": 1, "bps": 1, "kbit": 1e3, "kbps": 1e3, "mbit": 1e6, "mbps": 1e6, "gbit": 1e9, "gbps": 1e9}


def parse_duration_ms(text: str, *, what: str) -> int:
    """``40ms``, ``0.5s``, ``40`` (ms) → whole milliseconds; negative or malformed → ConfigError."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigError(f"{what} {text!r} is not a duration like 40ms or 0.2s")
    value = float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, None: 1.0}[match.group(2)]
    if value < 0:
        raise ConfigError(f"{what} {text!r} is negative: a link cannot deliver early")
    if value != int(value):
        raise ConfigError(f"{what} {text!r} is not a whole number of milliseconds")
    return int(value)


def parse_percent(text: str, *, what: str) -> float:
    match = _PERCENT.match(text.strip())
    if not match:
        raise ConfigError(f"{what} {text!r} is not a percentage like 1% or 0.5")
    value = float(match.group(1))
    if not 0 <= value <= 100:
        raise ConfigError(f"{what} {text!r} must be between 0% and 100%")
    return value


def parse_rate_mbit(text: str, *, what: str) -> float:
    """``10mbit``, ``500kbit``, ``1gbit`` (bits per second, tc's units) → Mbit/s."""
    match = _RATE.match(text.strip())
    if not match:
        raise ConfigError(f"{what} {text!r} is not a rate like 10mbit, 500kbit or 1gbit")
    bps = float(match.group(1)) * _RATE_SCALE[(match.group(2) or "bit").lower()]
    if bps <= 0:
        raise ConfigError(f"{what} {text!r} must be above zero (use 'mecfab link clear' for no limit)")
    if bps < 8000:
        raise ConfigError(f"{what} {text!r} is below 8kbit, the smallest rate the proxies can impose")
    return bps / 1e6


def validate_link(data: dict[str, Any], *, source: str) -> LinkSpec:
    try:
        return LinkSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(link)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid link in {source}: {problems}") from None


def profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name: str) -> LinkSpec:
    """A shipped link profile, ``network/links/<name>.yaml``."""
    path = PROFILE_DIR / f"{name}.yaml"
    if not re.match(r"^[a-z0-9-]+$", name) or not path.is_file():
        raise ConfigError(f"unknown link profile {name!r}: choose one of {', '.join(profiles())}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"link profile {path} must be a mapping")
    return validate_link(data, source=str(path))
