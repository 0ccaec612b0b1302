"""The agent image carries only the agent's libraries (no numpy, pandas or torch): its entry point
must import without them, or the image build's own `--help` check fails."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import runpy, sys
for name in ("numpy", "pandas", "torch", "matplotlib"):
    sys.modules[name] = None  # importing any of them now raises ImportError
sys.argv = ["agent", "--help"]
runpy.run_module("orchestrator.agent", run_name="__main__")
"""


def test_the_agent_entry_point_needs_no_numpy_pandas_torch_or_matplotlib() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage" in done.stdout
