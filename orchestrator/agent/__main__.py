"""``python -m orchestrator.agent --org Edge2``: the agent container's entry point, the same
command as ``mecfab agent`` without the rest of the CLI."""

from orchestrator.agent_cli import agent_main

agent_main()
