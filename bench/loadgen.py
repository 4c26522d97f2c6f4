"""A small, cheap HTTP/1.1 load generator on raw asyncio streams.

httpx costs several hundred microseconds of CPU per request; on a 2-core machine the load
generator would then compete with the server it measures. This client writes a prepared request
and reads the response by Content-Length (or chunked until the terminating chunk), nothing more.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    first_byte_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def pct(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
        return ordered[index]

    def summary(self) -> dict[str, float]:
        n = len(self.latencies_ms)
        return {
            "requests": n,
            "errors": self.errors,
            "rps": n / self.wall_s if self.wall_s else 0.0,
            "p50_ms": self.pct(self.latencies_ms, 50),
            "p95_ms": self.pct(self.latencies_ms, 95),
            "p99_ms": self.pct(self.latencies_ms, 99),
            "mean_ms": statistics.fmean(self.latencies_ms) if n else float("nan"),
            "ttfb_p50_ms": self.pct(self.first_byte_ms, 50),
            "ttfb_p95_ms": self.pct(self.first_byte_ms, 95),
        }


def build_request(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader, start: float, result: Result) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    result.statuses[status] = result.statuses.get(status, 0) + 1
    lower = head.lower()
    if b"content-length:" in lower:
        idx = lower.index(b"content-length:")
        length = int(lower[idx + 15 : lower.index(b"\r\n", idx)].strip())
        if length:
            first = await reader.read(1)
            result.first_byte_ms.append((time.perf_counter() - start) * 1000)
            await reader.readexactly(length - 1)
        if status >= 400:
            result.errors += 1
        return
    # chunked (streaming): first body byte is the time to first token
    first = True
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.strip(), 16)
        if first:
            result.first_byte_ms.append((time.perf_counter() - start) * 1000)
            first = False
        await reader.readexactly(size + 2)
        if size == 0:
            break
    if status >= 400:
        result.errors += 1


async def run_load(host: str, port: int, request: bytes, total: int, concurrency: int) -> Result:
    result = Result()
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                writer.write(request)
                try:
                    await read_response(reader, start, result)
                except (asyncio.IncompleteReadError, ConnectionError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - began
    return result
