"""Approvals with `Idempotency-Key` on distinct items, against a bare `UPDATE … RETURNING`.

Creates a throwaway database (on the server of BILLING_TEST_DATABASE_URL), migrates it,
loads one fleet with 25 employees and `--items` pending line items with known ids, and makes
a manager key bound to the fleet. Starts a real `billing serve` and, in another process, a
bare aiohttp + asyncpg server whose handler runs one `UPDATE line_items … RETURNING *` (the
same columns a decision sets, version checked) and serializes the row in Python. wrk
(`bench/approve.lua`) POSTs `/v1/line-items/{id}/approve` with `{"version": 1}` and a unique
`Idempotency-Key`, every request a different pending item, `--rounds` times, alternating,
`-t2 -c8 -d10s` by default; each run starts at fresh items. Prints requests per second and
p99 of each round, their medians and the ratio; every response must be 2xx.

    BILLING_TEST_DATABASE_URL=postgresql://… python bench/api_approve.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from _load import (
    WrkResult,
    billing_serve,
    free_port,
    jsonable,
    make_key,
    seed,
    serve,
    throwaway_database,
    wrk,
)
from aiohttp import web

from billing.crypto import new_key
from billing.db.pool import create_pool

SCRIPT = str(Path(__file__).with_name("approve.lua"))
THREADS = 2

APPROVE = """
UPDATE line_items SET status = 'approved', decided_by = 'bench', decided_at = now(),
       reason = NULL, version = version + 1, updated_at = now()
WHERE id = $1 AND version = $2 AND status = 'pending'
RETURNING *;
"""


def bare_app(dsn: str) -> web.Application:
    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app["pool"] = await create_pool(dsn)
        yield
        await app["pool"].close()

    async def approve(request: web.Request) -> web.Response:
        body = await request.json()
        async with request.app["pool"].acquire() as conn:
            row = await conn.fetchrow(APPROVE, request.match_info["id"], body["version"])
        if row is None:
            return web.json_response({"title": "Conflict"}, status=409)
        item = {k: jsonable(v) for k, v in row.items() if k != "evidence"}
        return web.json_response(item, dumps=json.dumps)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_post("/v1/line-items/{id}/approve", approve)
    app.router.add_get("/healthz", healthz)
    return app


def print_round(name: str, result: WrkResult) -> None:
    print(
        f"  {name:6} {result.rps:8.1f} req/s   p50 {result.p50_ms:7.1f} ms"
        f"   p99 {result.p99_ms:7.1f} ms   ({result.requests} requests, {result.errors} non-2xx)",
        flush=True,
    )


async def main(args: argparse.Namespace, command: str) -> None:
    async with throwaway_database() as dsn:
        fleet = await seed(dsn, args.items)
        key = await make_key(dsn, "manager", fleet)
        api_port, bare_port = free_port(), free_port()
        argv, env = billing_serve(dsn, api_port, new_key())
        bare_argv = [sys.executable, __file__, "--bare", dsn, str(bare_port)]
        first = 1
        apis: list[WrkResult] = []
        bares: list[WrkResult] = []

        async def run(url: str, bearer: str, seconds: int) -> WrkResult:
            nonlocal first
            result = await wrk(
                url,
                duration_s=seconds,
                connections=args.connections,
                threads=THREADS,
                script=SCRIPT,
                env={"BENCH_FIRST": str(first), "BENCH_KEY": bearer, "BENCH_THREADS": "2"},
            )
            first += 2 * result.requests + 2 * args.connections + 2  # threads may be uneven
            assert first < args.items, "not enough pending items: raise --items"
            assert result.errors == 0, f"{result.errors} non-2xx responses"
            return result

        async with serve(argv, env, api_port) as api, serve(bare_argv, env, bare_port) as bare:
            await run(api.url, key, 2)  # warm-up
            await run(bare.url, "", 2)
            for n in range(args.rounds):
                print(f"round {n + 1}:", flush=True)
                apis.append(await run(api.url, key, args.duration))
                print_round("API", apis[-1])
                bares.append(await run(bare.url, "", args.duration))
                print_round("bare", bares[-1])
    api_rps = statistics.median(r.rps for r in apis)
    bare_rps = statistics.median(r.rps for r in bares)
    api_p99 = statistics.median(r.p99_ms for r in apis)
    bare_p99 = statistics.median(r.p99_ms for r in bares)
    ratios = [a.rps / b.rps for a, b in zip(apis, bares, strict=True)]
    print(f"median API  {api_rps:8.1f} req/s, p99 {api_p99:6.1f} ms")
    print(f"median bare {bare_rps:8.1f} req/s, p99 {bare_p99:6.1f} ms")
    print(
        f"ratio API / bare: {api_rps / bare_rps:.2f} (per round: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )
    print(f"command: {command}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        web.run_app(bare_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[3]), print=None)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    command = shlex.join(["python", "bench/api_approve.py", *sys.argv[1:]])
    asyncio.run(main(parser.parse_args(), command))
