"""The Toxiproxy backend: one proxy container per edge, in the path of the edge peer's traffic.

Which connections cross an edge's proxy (``proxies_config``):

* ``peer``: every connection *to* the edge peer from another container: other orgs' gateways
  endorsing or evaluating on it, gossip and private-data pulls dialled by other peers, anchor-peer
  bootstrap. The peer advertises ``proxy.<edge domain>:7051`` (gossip external endpoint, anchor
  peer); TLS passes through untouched, so the peer's certificate names the proxy too.
* ``ordererN``: the edge peer's own connections *to* each orderer: block delivery (deliver
  client) and its gateway's broadcast of transactions, both re-addressed by
  ``peer.deliveryclient.addressOverrides`` (the gateway reads the same overrides).
* ``probe``: an echo server inside the proxy container, for measuring the link from the host.

A link's toxics go on every proxy of the edge, on both streams: half the round-trip delay
upstream and half downstream (so a request/response grows by the whole delay), the rate as a
``bandwidth`` toxic per direction and connection, loss as ``reset_peer`` on that share of
connections (Toxiproxy sees TCP streams, not packets: see the README).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from orchestrator.errors import NetworkError
from orchestrator.links.settings import Link
from orchestrator.topology import ORDERER_PORT, PEER_PORT, Node, Topology

log = logging.getLogger(__name__)

API_PORT = 8474
PROBE_PORT = 7099  # the probe proxy listens here ...
ECHO_PORT = 7098  # ... in front of busybox nc echoing on localhost
ORDERER_PROXY_BASE = 7100  # orderer k is proxied on 7100 + k
TOXIC_PREFIX = "link-"


def orderer_proxy_port(orderer: Node) -> int:
    return ORDERER_PROXY_BASE + int(orderer.short.removeprefix("orderer"))


def proxies_config(topology: Topology, edge: Node) -> list[dict[str, Any]]:
    """Toxiproxy's ``-config`` list for one edge's proxy container."""
    proxies = [
        {"name": "peer", "listen": f"0.0.0.0:{PEER_PORT}", "upstream": f"{edge.host}:{PEER_PORT}", "enabled": True}
    ]
    for orderer in topology.orderers_nodes:
        proxies.append(
            {
                "name": orderer.short,
                "listen": f"0.0.0.0:{orderer_proxy_port(orderer)}",
                "upstream": f"{orderer.host}:{ORDERER_PORT}",
                "enabled": True,
            }
        )
    proxies.append(
        {"name": "probe", "listen": f"0.0.0.0:{PROBE_PORT}", "upstream": f"127.0.0.1:{ECHO_PORT}", "enabled": True}
    )
    return proxies


def toxics(link: Link) -> list[dict[str, Any]]:
    """The toxics that impose ``link`` on one proxy (none for a clear link)."""
    out: list[dict[str, Any]] = []
    halves = {
        "upstream": (link.delay_ms // 2, link.jitter_ms // 2),
        "downstream": (link.delay_ms - link.delay_ms // 2, link.jitter_ms - link.jitter_ms // 2),
    }
    for stream, (delay, jitter) in halves.items():
        if delay or jitter:
            out.append(_toxic(f"latency-{stream}", "latency", stream, {"latency": delay, "jitter": jitter}))
    if link.rate_bps is not None:
        rate_kb = max(1, round(link.rate_bps / 8000))  # Toxiproxy's rate: KB/s (1000 bytes) per direction
        for stream in ("upstream", "downstream"):
            out.append(_toxic(f"rate-{stream}", "bandwidth", stream, {"rate": rate_kb}))
    if link.loss_pct:
        out.append(_toxic("loss", "reset_peer", "downstream", {"timeout": 0}, toxicity=link.loss_pct / 100))
    return out


def _toxic(name: str, kind: str, stream: str, attributes: dict[str, Any], *, toxicity: float = 1.0) -> dict[str, Any]:
    return {
        "name": TOXIC_PREFIX + name,
        "type": kind,
        "stream": stream,
        "toxicity": toxicity,
        "attributes": attributes,
    }


def link_of(toxic_list: list[dict[str, Any]]) -> Link:
    """Read a link back from a proxy's toxics (the inverse of :func:`toxics`)."""
    delay = jitter = 0
    loss = 0.0
    rates: list[float] = []
    for t in toxic_list:
        if not str(t.get("name", "")).startswith(TOXIC_PREFIX):
            continue
        attrs = t.get("attributes") or {}
        if t["type"] == "latency":
            delay += int(attrs.get("latency", 0))
            jitter += int(attrs.get("jitter", 0))
        elif t["type"] == "bandwidth":
            rates.append(float(attrs["rate"]) * 8000)
        elif t["type"] == "reset_peer":
            loss = round(float(t.get("toxicity", 0)) * 100, 4)
    return Link(delay_ms=delay, jitter_ms=jitter, loss_pct=loss, rate_bps=min(rates) if rates else None)


class ToxiproxyBackend:
    """Drives each edge's Toxiproxy through its HTTP API, published on the host."""

    name = "toxiproxy"

    def __init__(self, bind: str, *, timeout: float = 10) -> None:
        self.bind = bind
        self.timeout = timeout

    def _call(self, node: Node, method: str, path: str, body: Any = None) -> Any:
        url = f"http://{self.bind}:{node.proxy_api_port}{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise NetworkError(f"link proxy of {node.org.name}: {method} {path} failed: {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(
                f"link proxy of {node.org.name} ({node.proxy_host}) does not answer on "
                f"{self.bind}:{node.proxy_api_port} ({reason}): is the network up with links enabled?"
            ) from None
        return json.loads(text) if text.strip() else None

    def proxy_names(self, node: Node) -> list[str]:
        proxies = self._call(node, "GET", "/proxies") or {}
        return sorted(proxies)

    def check(self, node: Node) -> None:
        if "peer" not in self.proxy_names(node):
            raise NetworkError(f"link proxy of {node.org.name} has no 'peer' proxy: re-run 'mecfab network up'")

    def apply(self, node: Node, link: Link) -> None:
        wanted = toxics(link)
        for proxy in self.proxy_names(node):
            self._clear_proxy(node, proxy)
            for toxic in wanted:
                self._call(node, "POST", f"/proxies/{proxy}/toxics", toxic)
        log.info("link of %s: %s", node.org.name, link.describe())

    def _clear_proxy(self, node: Node, proxy: str) -> None:
        for toxic in self._call(node, "GET", f"/proxies/{proxy}/toxics") or []:
            if str(toxic.get("name", "")).startswith(TOXIC_PREFIX):
                self._call(node, "DELETE", f"/proxies/{proxy}/toxics/{toxic['name']}")

    def read(self, node: Node) -> Link:
        return link_of(self._call(node, "GET", "/proxies/peer/toxics") or [])

    def clear(self, node: Node) -> None:
        for proxy in self.proxy_names(node):
            self._clear_proxy(node, proxy)
