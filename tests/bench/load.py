"""The load generator: sends prepared requests from a process of its own and times each one.

It runs in a child process so that its event loop never competes with the fakes' loop in
the benchmark's own process. Each sender keeps one HTTP/1.1 connection alive and writes
requests whose bytes, signature included, were prepared before the clock starts; it reads
only the status line and the body's length, so it costs the machine little next to the
server it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """One prepared POST: its path on the server, its body and its headers."""

    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Timing:
    """When one request left and when its answer was read, on the shared monotonic clock."""

    index: int
    started: float
    finished: float
    status: int

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class Load:
    """What to send, to which server, how many at once, and for how long at most."""

    base_url: str
    requests: list[Request]
    concurrency: int
    time_limit: float = 60.0
    timeout: float = 10.0
    # Seconds between the starts of one sender's requests; 0 sends the next one at once.
    interval: float = 0.0


class _Connection:
    """One kept-alive HTTP/1.1 connection to the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, raw: bytes) -> int:
        """Write one request and read its answer; the answer's status."""
        if self._writer is None or self._reader is None:
            await self.open()
        assert self._writer is not None and self._reader is not None
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        length, close = _framing(head)
        await self._reader.readexactly(length)
        if close:
            await self.close()
        return int(head[9:12])

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def run(load: Load) -> list[Timing]:
    """Send the load and return one timing per request sent, in the order they were sent."""
    return asyncio.run(_run(load))


async def _run(load: Load) -> list[Timing]:
    url = urlsplit(load.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    prepared = [_raw(request, f"{host}:{port}") for request in load.requests]
    connections = [_Connection(host, port) for _ in range(min(load.concurrency, len(prepared)))]
    await asyncio.gather(*(connection.open() for connection in connections))
    try:
        return await _send_all(load, prepared, connections)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))


async def _send_all(
    load: Load, prepared: list[bytes], connections: list[_Connection]
) -> list[Timing]:
    timings: list[Timing] = []
    pending = iter(enumerate(prepared))
    deadline = time.monotonic() + load.time_limit

    async def sender(connection: _Connection) -> None:
        for index, raw in pending:
            if time.monotonic() > deadline:
                return
            started = time.monotonic()
            try:
                status = await asyncio.wait_for(connection.send(raw), load.timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                status = 0
                await connection.close()
            timings.append(Timing(index, started, time.monotonic(), status))
            if load.interval > 0:
                await asyncio.sleep(max(0.0, started + load.interval - time.monotonic()))

    await asyncio.gather(*(sender(connection) for connection in connections))
    return sorted(timings, key=lambda timing: timing.started)


def _raw(request: Request, host: str) -> bytes:
    """The request's bytes as HTTP/1.1 sends them."""
    headers = {"Host": host, **request.headers, "Content-Length": str(len(request.body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {request.path} HTTP/1.1\r\n{head}\r\n".encode() + request.body


def _framing(head: bytes) -> tuple[int, bool]:
    """The body's length and whether the server closes the connection after it."""
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not expected from the servers measured")
    return length, close
