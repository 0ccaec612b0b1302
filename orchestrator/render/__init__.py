"""Render a topology into the files Fabric's tools and Docker Compose read.

Pure functions of their inputs: the same topology gives byte-identical output, so the committed
default render (``docker-compose.yaml``) can be checked against the code. Nothing here runs a
tool or talks to Docker.
"""

from orchestrator.render.compose import render_compose
from orchestrator.render.configtx import render_configtx
from orchestrator.render.crypto import render_crypto_config
from orchestrator.render.package import ccaas_package, package_id

__all__ = ["ccaas_package", "package_id", "render_compose", "render_configtx", "render_crypto_config"]
