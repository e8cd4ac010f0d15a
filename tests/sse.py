"""Reading a text/event-stream as a client does, for the feed's tests."""

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx


def parse_block(lines: list[str]) -> dict:
    """One event (or comment) of the stream: {'event', 'id', 'data', 'retry', 'comment'}."""
    fields: dict = {}
    for line in lines:
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            fields["comment"] = value
        else:
            fields[name] = value
    if "data" in fields:
        fields["data"] = json.loads(fields["data"])
    return fields


def parse(stream_text: str) -> list[dict]:
    return [parse_block(block.splitlines()) for block in stream_text.strip().split("\n\n") if block]


@dataclass
class Follower:
    """Follows the feed in a task; records every event with the time it arrived."""

    url: str
    headers: dict = field(default_factory=dict)
    status: int | None = None
    events: list[dict] = field(default_factory=list)
    arrived: dict[int, float] = field(default_factory=dict)  # order id -> time.monotonic()

    def order_ids(self) -> list[int]:
        return [int(e["id"]) for e in self.events if e.get("event") == "order"]

    def ended(self) -> bool:
        return any(e.get("event") == "end" for e in self.events)

    async def run(self) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(60, read=None)) as client,
            client.stream("GET", self.url, headers=self.headers) as response,
        ):
            self.status = response.status_code
            block: list[str] = []
            async for line in response.aiter_lines():
                if line:
                    block.append(line)
                    continue
                if block:
                    event = parse_block(block)
                    self.events.append(event)
                    if event.get("event") == "order":
                        self.arrived[int(event["id"])] = time.monotonic()
                block = []


async def wait_until(condition, seconds: float = 15.0) -> bool:
    """Poll condition() until it holds; False if `seconds` passed first."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
