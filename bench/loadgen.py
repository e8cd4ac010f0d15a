"""A small HTTP/1.1 load generator: N keep-alive connections on loopback.

It stands in for wrk, which is not on every machine: each connection sends
its next request as soon as the previous answer has arrived, and every
answer is read in full (Content-Length or chunked), so the server does the
whole of its work.
"""

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    seconds: float
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.statuses) / self.seconds


def _request(method: str, path: str, body: bytes | None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value:
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = bytearray()
    while size := int((await reader.readline()).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readline()
    await reader.readline()
    return status, bytes(body)


async def run(
    host: str,
    port: int,
    requests: list[tuple[str, str, bytes | None]],
    connections: int,
    keep_bodies: bool = False,
) -> Result:
    """Send every request once, over `connections` connections in parallel."""
    queue = list(reversed(requests))
    result = Result(seconds=0.0)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                method, path, body = queue.pop()
                writer.write(_request(method, path, body))
                status, answer = await _read_response(reader)
                result.statuses.append(status)
                if keep_bodies:
                    result.bodies.append(answer)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - start
    return result
