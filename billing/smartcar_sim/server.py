"""Serving a simulator on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiohttp import web

from billing.smartcar_sim.app import build_app
from billing.smartcar_sim.options import SimulatorOptions
from billing.smartcar_sim.simulator import Simulator


@asynccontextmanager
async def serve(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Simulator]:
    """Serve `sim` on host:port (0 picks a free port) until the block ends."""
    runner = web.AppRunner(
        build_app(sim),
        access_log=None,
        handle_signals=False,
        handler_cancellation=True,
        shutdown_timeout=2.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        sim.served_at(f"http://{bound_host}:{bound_port}")
        yield sim
    finally:
        sim.served_at(None)
        await runner.cleanup()


def run_simulator(
    options: SimulatorOptions | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AbstractAsyncContextManager[Simulator]:
    """`async with run_simulator(options) as sim:` a simulator on a real socket at `sim.url`."""
    return serve(Simulator(options), host, port)
