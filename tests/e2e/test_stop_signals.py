"""A signal sent the moment a process says it is ready stops it gracefully.

`billing serve`, `worker`, `smartcar-sim` and `demo` print their readiness line inside
`stop_signals()`; a supervisor (or a test) that signals as soon as it reads the line must not
meet Python's default handler, which would end the process with a traceback and exit code 1.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

SCRIPT = """
import asyncio
from billing.runtime import stop_signals

async def main() -> None:
    with stop_signals() as stop:
        print("ready", flush=True)
        await stop.wait()
    print("stopped", flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_right_after_the_ready_line_stops_cleanly(sig: signal.Signals) -> None:
    for _ in range(10):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SCRIPT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert ready == b"ready\n"
        proc.send_signal(sig)
        rest = await asyncio.wait_for(proc.stdout.read(), timeout=60)
        assert await asyncio.wait_for(proc.wait(), timeout=60) == 0, rest.decode()
        assert rest == b"stopped\n"
