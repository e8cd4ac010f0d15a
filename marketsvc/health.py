"""GET /healthz and GET /readyz: what a load balancer or orchestrator asks.

- /healthz: the process is alive and its event loop answers. It never
  touches the database, so a database outage does not get the process
  restarted (that would not help).
- /readyz: the process can serve requests now: the database answers a ping
  within Settings.ready_timeout, and the server is not shutting down. A 503
  takes the process out of rotation until it is ready again.
"""

from typing import Literal

import anyio
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from marketsvc import lifecycle
from marketsvc.db.engine import ping
from marketsvc.db.unavailable import unavailable_reason

router = APIRouter(tags=["health"])


class Healthy(BaseModel):
    status: Literal["ok"]


class NotReady(BaseModel):
    detail: str


@router.get("/healthz")
async def healthz() -> Healthy:
    """The process answers (no database involved)."""
    return Healthy(status="ok")


@router.get(
    "/readyz",
    responses={503: {"model": NotReady, "description": "Not ready; detail says why"}},
)
async def readyz(request: Request) -> Healthy:
    """The database answers a ping in time and the server is not shutting down."""
    if lifecycle.stopping().is_set():
        raise not_ready("the server is shutting down")
    timeout = request.app.state.settings.ready_timeout
    try:
        with anyio.fail_after(timeout):
            await ping()
    except TimeoutError:
        raise not_ready(f"the database did not answer within {timeout:g} s") from None
    except Exception as exc:
        reason = unavailable_reason(exc) or f"the database failed the ping ({type(exc).__name__})"
        raise not_ready(reason) from None
    return Healthy(status="ok")


def not_ready(reason: str) -> HTTPException:
    return HTTPException(503, reason, headers={"Retry-After": "1"})
