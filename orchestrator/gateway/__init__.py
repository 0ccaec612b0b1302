"""Fabric Gateway client over gRPC: identity, proposals, per-phase errors and the client."""

from orchestrator.gateway.client import (
    ChaincodeEvent,
    ChaincodeEventStream,
    Commit,
    CommitStatus,
    Contract,
    Gateway,
    Network,
    PhaseTimings,
    Proposal,
    SubmitResult,
    Timeouts,
    Transaction,
)
from orchestrator.gateway.errors import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    SubmitError,
)
from orchestrator.gateway.identity import Identity

__all__ = [
    "ChaincodeEvent",
    "ChaincodeEventStream",
    "ChaincodeEventsError",
    "Commit",
    "CommitError",
    "CommitStatus",
    "CommitStatusError",
    "Contract",
    "EndorseError",
    "ErrorDetail",
    "EvaluateError",
    "Gateway",
    "GatewayError",
    "Identity",
    "Network",
    "PhaseTimings",
    "Proposal",
    "SubmitError",
    "SubmitResult",
    "Timeouts",
    "Transaction",
]
