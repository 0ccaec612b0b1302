"""The edge server agent: one per edge org, in its own container (``mecfab agent --org Edge2``).

``agent`` (the roles: candidate, executor, requester), ``decide`` (willingness, price, award),
``work`` (the real execution), ``events`` (parsing chaincode events), ``orders`` (what the workload
asks a requester to do), ``http`` (status and control endpoint, and its client), ``trace``
(per-stage timestamps), ``connection`` (how to reach the org's peer), ``txn`` (recorded, retried
submits). Nothing here needs Docker, numpy or the policies: the agent image carries only this.
"""

from orchestrator.agent.agent import AgentSettings, EdgeAgent
from orchestrator.agent.connection import PeerConnection
from orchestrator.agent.decide import AgentLoad, AwardRule, Bid, OfferTerms, decide_offer, pick_winner
from orchestrator.agent.http import AgentClient, AgentServer
from orchestrator.agent.orders import TaskOrder
from orchestrator.agent.trace import STAGES, TraceBook

__all__ = [
    "STAGES",
    "AgentClient",
    "AgentLoad",
    "AgentServer",
    "AgentSettings",
    "AwardRule",
    "Bid",
    "EdgeAgent",
    "OfferTerms",
    "PeerConnection",
    "TaskOrder",
    "TraceBook",
    "decide_offer",
    "pick_winner",
]
