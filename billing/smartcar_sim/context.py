"""What every handler shares: the request's Smartcar request id, short-circuit answers, and
the two ways of not answering at all (hanging, resetting the connection)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import NoReturn

from aiohttp import web

from billing.smartcar_sim.wire import html_page

REQUEST_ID = web.RequestKey("sc_request_id", str)


class Reply(Exception):
    """Raised by a check deep in a handler to answer at once with `response`."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def request_id(request: web.Request) -> str:
    return request[REQUEST_ID]


def reset(request: web.Request) -> NoReturn:
    """Close the connection without an answer."""
    if request.transport is not None:
        request.transport.abort()
    # aiohttp treats a cancelled handler as a client that went away: nothing is written.
    raise asyncio.CancelledError


class Hangs:
    """Requests kept open on purpose; released (by reset) when the server shuts down, so a
    test run never waits for a hanging handler."""

    def __init__(self, hang_s: float) -> None:
        self._hang_s = hang_s
        self._closing = asyncio.Event()

    async def on_shutdown(self, _app: web.Application) -> None:
        self._closing.set()

    async def hang(self, request: web.Request) -> web.Response:
        """Keep the request open for `hang_s`, then answer like a gateway that gave up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self._hang_s)
        if self._closing.is_set():
            reset(request)
        return html_page(504, "Gateway Time-out")
