# steps: patch main
# >>> exercise: status-first
# steps: edit start_stream
# --- stub


async def start_stream(batches: AsyncIterator[Any]) -> _Primed:
    """Run `batches` up to its first item, so that its errors raise here."""
    # TODO (exercise status-first): fetch the first item now, while the
    # route can still choose the status code:
    # - first = await anext(batches); return _Primed(first, batches, empty=False)
    # - an empty generator raises StopAsyncIteration: return
    #   _Primed(None, batches, empty=True), which streams as `[]`;
    # - any other exception: close the generator (await batches.aclose(),
    #   which gives its connection back) and re-raise it, so the route
    #   answers with an error status instead of a 200 and a broken body.
    raise NotImplementedError("exercise status-first: write start_stream")
# <<< exercise: status-first
