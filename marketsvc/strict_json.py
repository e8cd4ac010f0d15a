"""Request bodies parsed strictly: UTF-8 JSON, exact numbers, bounded nesting.

FastAPI parses a JSON body with json.loads as it is: numbers with a fraction
become floats (1.10000000000000000001 arrives as 1.1), NaN and Infinity are
accepted, and a body nested a hundred thousand levels deep ends in a
RecursionError. Every route of the service uses StrictJSONRoute instead, so
that each of these is a 422 that says what is wrong.
"""

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

# No body of this API nests deeper than 3 levels ({"items": [{...}]}).
MAX_DEPTH = 32


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply containers nest in `value`, without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            pending.extend((child, depth + 1) for child in value)
    return deepest


def parse_json(body: bytes) -> Any:
    """The JSON value of `body`; HTTPException 422 for anything that is not strict JSON.

    Numbers with a fraction or an exponent become exact Decimals, never
    floats; whole numbers stay ints.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            422, f"the body is not UTF-8: byte {exc.start} cannot be decoded"
        ) from None
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except RecursionError:
        raise HTTPException(422, f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(
            422, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # NaN, or an integer of more than 4300 digits
        raise HTTPException(422, f"the body is not valid JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise HTTPException(422, f"the body nests deeper than {MAX_DEPTH} levels")
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose request.json() is parse_json: body parameters and handlers alike."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
