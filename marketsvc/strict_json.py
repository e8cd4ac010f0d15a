"""Request bodies parsed strictly: UTF-8 JSON, exact numbers, bounded nesting.

FastAPI parses a JSON body with json.loads as it is: numbers with a fraction
become floats (1.10000000000000000001 arrives as 1.1), NaN and Infinity are
accepted, and a body nested a hundred thousand levels deep ends in a
RecursionError, and a field given twice silently takes its last value.
Every route of the service uses StrictJSONRoute instead, so that each of
these is a 422 that says what is wrong.
"""

import json
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from itertools import accumulate
from typing import Any

import anyio.to_thread
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

# No body of this API nests deeper than 3 levels ({"items": [{...}]}).
MAX_DEPTH = 32


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"customer_id": 1, "customer_id": 2} means different things to
    # different parsers (first or last wins): refuse it instead.
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the field {repeated!r} appears twice in one object")
    return obj


# Strings (which may hold brackets) and then everything but brackets are
# cut out of the body; what is left, such as b"{[{}{}]}", shows the nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def _depth(body: bytes) -> int:
    """How deeply the arrays and objects of a valid JSON body nest.

    Worked out on the text, at C speed: walking a parsed megabyte of small
    values in Python would stall the event loop for most of a second.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


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
        value = json.loads(
            text, parse_float=Decimal, parse_constant=_no_constants, object_pairs_hook=_object
        )
    except RecursionError:
        raise HTTPException(422, f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(
            422, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # NaN, a repeated field, an integer of over 4300 digits
        raise HTTPException(422, f"the body is not valid JSON: {exc}") from None
    if _depth(body) > MAX_DEPTH:
        raise HTTPException(422, f"the body nests deeper than {MAX_DEPTH} levels")
    return value


# Parsing a large body takes a while (up to a second for a megabyte of tiny
# arrays): beyond this size it runs in a worker thread, so that the event
# loop goes on serving the other requests meanwhile.
PARSE_IN_THREAD_BYTES = 64_000


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > PARSE_IN_THREAD_BYTES:
                self._json = await anyio.to_thread.run_sync(parse_json, body)
            else:
                self._json = parse_json(body)
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose request.json() is parse_json: body parameters and handlers alike."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
