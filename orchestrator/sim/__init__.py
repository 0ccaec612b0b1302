"""Simulator of the paper's latency model and its DDPG executor selection (issue 4).

Modules: ``config`` (parameters), ``model`` (equations 1-5, execution, queueing), ``traces``
(seeded workloads), ``cluster`` (the queueing simulator), ``env`` (gymnasium environment),
``ddpg`` (the agent, needs torch), ``evaluate`` (policies on identical traces), ``figures``.
Nothing is imported here, so ``import orchestrator.sim.model`` pulls in neither torch nor gymnasium.
"""
