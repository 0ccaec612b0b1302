"""Measure a link, not the settings: round trips and bulk throughput through an edge's proxy.

The probe connects from the host to the edge's published probe port; the proxy container relays
(with the edge's toxics, exactly as on its peer and orderer proxies) to an echo server beside it.
A 1-byte echo takes one round trip through the link; a bulk transfer is echoed back, so it crosses
the rate limit once upstream and once downstream, pipelined: its bytes/s is the link's rate.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeResult:
    rtt_ms: list[float]
    throughput_bps: float | None

    @property
    def rtt_median_ms(self) -> float:
        return statistics.median(self.rtt_ms)


def round_trips(host: str, port: int, *, samples: int = 11, timeout: float = 10) -> list[float]:
    """``samples`` 1-byte echo round trips over one TCP connection, in milliseconds."""
    out = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(samples):
            start = time.perf_counter()
            sock.sendall(b"x")
            if sock.recv(1) != b"x":
                raise ConnectionError(f"the echo through {host}:{port} answered wrongly")
            out.append((time.perf_counter() - start) * 1000)
    return out


def throughput(host: str, port: int, *, nbytes: int = 2_000_000, timeout: float = 120) -> float:
    """Bits per second of an echoed bulk transfer of ``nbytes`` (send and receive overlap)."""
    payload = b"\0" * 65536
    with socket.create_connection((host, port), timeout=timeout) as sock:
        errors: list[BaseException] = []

        def send() -> None:
            try:
                left = nbytes
                while left > 0:
                    chunk = payload[: min(left, len(payload))]
                    sock.sendall(chunk)
                    left -= len(chunk)
            except OSError as exc:
                errors.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        start = time.perf_counter()
        sender.start()
        got = 0
        first: float | None = None
        while got < nbytes:
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError(f"the echo through {host}:{port} closed after {got} of {nbytes} bytes")
            if first is None:
                first = time.perf_counter()
            got += len(data)
        end = time.perf_counter()
        sender.join(timeout)
        if errors:
            raise errors[0]
    # from the first byte back to the last: the transfer itself, without the first round trip
    assert first is not None
    return nbytes * 8 / max(end - first, 1e-9) if end > first else nbytes * 8 / (end - start)


def probe(host: str, port: int, *, samples: int = 11, nbytes: int | None = 2_000_000) -> ProbeResult:
    rtts = round_trips(host, port, samples=samples)
    rate = throughput(host, port, nbytes=nbytes) if nbytes else None
    return ProbeResult(rtt_ms=rtts, throughput_bps=rate)
