"""Run every figure, print the table, and write it with the machine into BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from tests.bench import figures
from tests.bench.harness import ROOT, Workplace
from tests.bench.report import Row, markdown, table

COMMAND = ".venv/bin/python -m tests.bench"
TIME_LIMIT = 170.0

Scenario = Callable[[Executor, Workplace], Awaitable[list[Row]]]
SCENARIOS: dict[str, Scenario] = {
    "loop": figures.review_loop,
    "notify": figures.notifications,
    "pacing": lambda pool, place: figures.pacing(place),
    "store": lambda pool, place: figures.big_store(place),
}


async def run(names: list[str], place: Workplace) -> list[Row]:
    rows: list[Row] = []
    # The load generator runs in a process of its own, started fresh (spawn, not fork).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        for name in names:
            rows += await SCENARIOS[name](pool, place)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"run only these ({', '.join(SCENARIOS)}); BENCHMARKS.md is written when all run",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record a flame graph of each bot process into DIR (needs py-spy installed)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    if args.py_spy is not None:
        if shutil.which("py-spy") is None:
            parser.error("--py-spy needs py-spy on the PATH: .venv/bin/pip install py-spy")
        args.py_spy.mkdir(parents=True, exist_ok=True)
    names = args.scenarios or list(SCENARIOS)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crew-review-bench-") as tmp:
        place = Workplace(Path(tmp), args.py_spy)
        try:
            rows = asyncio.run(asyncio.wait_for(run(names, place), TIME_LIMIT))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
            raise
    seconds = time.monotonic() - began

    print(table(rows))
    for row in rows:
        print(f"\n{row.figure}: {row.how}")
    if set(names) == set(SCENARIOS):
        (ROOT / "BENCHMARKS.md").write_text(markdown(rows, seconds, COMMAND))
        print(f"\nWritten to BENCHMARKS.md; the run took {seconds:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
