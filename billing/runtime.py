"""Running long-lived pieces until SIGINT/SIGTERM, then closing them in reverse order."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from aiohttp import web


@contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event that SIGINT/SIGTERM set from now on. Enter it before telling anyone the
    process is ready: a signal sent the moment the readiness line is read must stop the
    process gracefully, not hit Python's default handler."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@asynccontextmanager
async def serving(
    app: web.Application, host: str, port: int, *, variable: str = "BILLING_PORT"
) -> AsyncIterator[str]:
    """Serve `app` on host:port (0 picks a free port); yields its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host}:{port} ({exc.strerror}); set {variable} to a free port"
            ) from None
        bound = runner.addresses[0]
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        await runner.cleanup()
