"""HR list API: `GET /v1/line-items?limit=100` with an HR key, against a bare handler.

Creates a throwaway database (on the server of BILLING_TEST_DATABASE_URL), migrates it,
loads one fleet with 25 employees and `--items` pending line items and makes an HR key
bound to the fleet. Starts a real `billing serve` and, in another process, a bare aiohttp +
asyncpg server whose one handler runs the same `list_line_items` query (scoped to the fleet,
first page of 100) and serializes the rows in Python (`json.dumps` of a dict per row). Then
wrk loads each in turn over loopback, `--rounds` times, alternating, `-t2 -c8 -d10s` by
default; prints requests per second and p99 of each round, their medians, and the ratio.
The database is dropped afterwards.

    BILLING_TEST_DATABASE_URL=postgresql://… python bench/api_list.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
from collections.abc import AsyncIterator

import aiohttp
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
from billing.db.queries import queries
from billing.domain.line_items import LineItem

FIELDS = list(LineItem.model_fields)  # the columns the API shows


def bare_app(dsn: str) -> web.Application:
    query = queries("line_items").list_line_items

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app["pool"] = await create_pool(dsn)
        yield
        await app["pool"].close()

    async def handler(request: web.Request) -> web.Response:
        fleet = request.query["fleet_id"]
        async with request.app["pool"].acquire() as conn:
            rows = await conn.fetch(
                query, fleet, None, None, None, None, None, None, None, 100, None, None
            )
        items = [{k: jsonable(row[k]) for k in FIELDS} for row in rows]
        return web.json_response({"items": items, "next_cursor": None}, dumps=json.dumps)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_get("/bare", handler)
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
        key = await make_key(dsn, "hr", fleet)
        secret = new_key()
        api_port, bare_port = free_port(), free_port()
        argv, env = billing_serve(dsn, api_port, secret)
        bare_argv = [sys.executable, __file__, "--bare", dsn, str(bare_port)]
        async with serve(argv, env, api_port) as api, serve(bare_argv, env, bare_port) as bare:
            api_url = f"{api.url}/v1/line-items?limit=100"
            bare_url = f"{bare.url}/bare?fleet_id={fleet}"
            auth = {"Authorization": f"Bearer {key}"}
            async with aiohttp.ClientSession() as http:
                async with http.get(api_url, headers=auth) as resp:
                    page = await resp.json()
                    assert resp.status == 200, page
                async with http.get(bare_url) as resp:
                    raw = await resp.json()
            assert len(page["items"]) == len(raw["items"]) == 100
            assert [i["id"] for i in page["items"]] == [i["id"] for i in raw["items"]]

            async def load(url: str, headers: dict[str, str], seconds: int) -> WrkResult:
                return await wrk(
                    url,
                    headers=headers,
                    duration_s=seconds,
                    connections=args.connections,
                    threads=2,
                )

            await load(api_url, auth, 2)  # warm-up
            await load(bare_url, {}, 2)
            apis, bares = [], []
            for n in range(args.rounds):
                print(f"round {n + 1}:", flush=True)
                apis.append(await load(api_url, auth, args.duration))
                print_round("API", apis[-1])
                bares.append(await load(bare_url, {}, args.duration))
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
        + "); target >= 1.0"
    )
    print(f"command: {command}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        web.run_app(bare_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[3]), print=None)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    command = shlex.join(["python", "bench/api_list.py", *sys.argv[1:]])
    asyncio.run(main(parser.parse_args(), command))
