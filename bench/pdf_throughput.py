"""Statement PDFs per second: one process, and a process pool, on this machine.

Renders realistic statements (30 lines by default, every document a different number, the
fleet in de-DE) through `billing.documents.pdf.render_pdf`, the function the close uses, and
prints PDFs per second for a single process and for a `ProcessPoolExecutor` of each
requested size. Every worker renders a few documents before the clock starts (imports,
fonts, template compilation); the load average is printed because the cores may be shared.

    python bench/pdf_throughput.py [--lines 30] [--count 60] [--pool 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

from billing.documents.pdf import render_pdf
from billing.domain.documents import DocumentLine, EmployeeDetails, FleetDetails, StatementDocument


def document(n: int, lines: int) -> StatementDocument:
    items = tuple(
        DocumentLine(
            line_item_id=uuid5(NAMESPACE_URL, f"bench/{n}/{i}"),
            charge_date=date(2026, 11, 1) + timedelta(days=i % 30),
            period="2026-11" if i < lines - 2 else "2026-10",
            kind="charge" if i < lines - 2 else "adjustment",
            vehicle_name="Tesla Model Y (M-FB 1234)",
            kwh=Decimal(10 + i % 17) + Decimal("0.1234"),
            unit_price=Decimal("0.340000"),
            amount=((Decimal(10 + i % 17) + Decimal("0.1234")) * Decimal("0.34")).quantize(
                Decimal("0.01")
            )
            * (1 if i < lines - 2 else -1),
            tariff_source="Strompreispauschale 2026 (BMF 11.11.2025)",
            prior_period=i >= lines - 2,
        )
        for i in range(lines)
    )
    return StatementDocument(
        kind="statement",
        document_id=uuid5(NAMESPACE_URL, f"bench/{n}"),
        number=f"S-2026-{n + 1:05d}",
        status="finalized",
        fleet=FleetDetails(
            id=uuid5(NAMESPACE_URL, "bench/fleet"),
            name="Nordlicht Logistik GmbH",
            currency="EUR",
            timezone="Europe/Berlin",
            locale="de-DE",
        ),
        employee=EmployeeDetails(
            id=uuid5(NAMESPACE_URL, f"bench/employee/{n}"),
            name=f"Mitarbeiterin Nummer {n}",
            external_ref=f"{10000 + n}",
        ),
        period="2026-11",
        currency="EUR",
        issued_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        lines=items,
        total=sum((item.amount for item in items), Decimal(0)),
        kwh=sum((item.kwh for item in items), Decimal(0)),
    )


def _render(args: tuple[int, int]) -> tuple[int, str, float]:
    """(size, sha256, CPU seconds) of one statement's PDF, rendered in this process."""
    started = time.process_time()
    pdf = render_pdf(document(*args))
    return len(pdf), hashlib.sha256(pdf).hexdigest(), time.process_time() - started


def single(count: int, lines: int) -> tuple[float, float]:
    """(PDFs per wall-clock second, CPU seconds per PDF) in this process."""
    for n in range(3):
        _render((n, lines))
    started = time.perf_counter()
    cpu = sum(_render((n, lines))[2] for n in range(count))
    return count / (time.perf_counter() - started), cpu / count


def pooled(workers: int, count: int, lines: int) -> tuple[float, float]:
    """(PDFs per wall-clock second, CPU seconds per PDF) with a pool of `workers` processes."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_render, [(n, lines) for n in range(3 * workers)]))
        started = time.perf_counter()
        results = list(pool.map(_render, [(n, lines) for n in range(count)], chunksize=1))
        wall = time.perf_counter() - started
    return count / wall, sum(result[2] for result in results) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--count", type=int, default=60, help="PDFs per measurement")
    parser.add_argument("--pool", type=int, action="append", help="pool sizes (default 2)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    size, digest, _ = _render((0, args.lines))
    print(f"cpus {cores}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"statement of {args.lines} lines: {size} bytes, sha256 {digest[:16]}…")
    rate, cpu = single(args.count, args.lines)
    print(
        f"single process : {rate:6.2f} PDFs/s wall, {cpu * 1000:6.1f} CPU ms per PDF "
        f"(= {1 / cpu:5.2f} PDFs/s per idle core)"
    )
    for workers in args.pool or [2]:
        rate, cpu = pooled(workers, args.count, args.lines)
        print(
            f"pool of {workers}      : {rate:6.2f} PDFs/s wall, {cpu * 1000:6.1f} CPU ms per PDF "
            f"(= {min(workers, cores) / cpu:5.2f} PDFs/s on {min(workers, cores)} idle cores)"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
