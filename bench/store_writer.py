"""How fast `StoreWriter` drains request records into SQLite while the event loop is busy, and
how much memory a queued record holds.

    python -m bench.store_writer [--records 20000] [--busy-tasks 4]

A gateway at its peak keeps its event loop (and so the GIL) busy; the writer must still drain at
least as fast as requests arrive, or its queue grows. `--busy-tasks` coroutines each burn 1 ms
of CPU between yields, as request handling would. Records are the shape the gateway writes (one
attempt, two candidates, no text). Target: drain faster than the gateway's peak request rate
(`gateway_bench.py`, c64 requests/s).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from pathlib import Path

from router.classify.types import Sensitivity, Task
from router.settings import StoreSettings
from router.stats.records import Attempt, ClassificationSummary, RequestRecord
from router.store.database import Database, database_url
from router.store.writer import StoreWriter


def record(i: int, now: float) -> RequestRecord:
    return RequestRecord(
        request_id=f"jr-{i:032x}", time=now, route="default", team="team-1", key_id="k1",
        classification=ClassificationSummary(task=Task.CHAT, difficulty=0.2,
                                              sensitivity=Sensitivity.NONE, prompt_tokens=12),
        candidates=["qwen-local", "gpt-4o-mini"], chosen="qwen-local",
        attempts=[Attempt(model="qwen-local", endpoint="http://127.0.0.1:8000", outcome="ok",
                          duration_ms=3.2)],
        answered_by="qwen-local", tokens_in=12, tokens_out=16, total_ms=4.1, status=200,
    )


async def burn(stop: asyncio.Event) -> None:
    while not stop.is_set():
        until = time.perf_counter() + 0.001
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0)


async def run(records: int, busy_tasks: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(database_url(None, Path(tmp)))
        await db.upgrade()
        writer = StoreWriter(db, StoreSettings(queue_size=records))
        now = time.time()

        # What the queue keeps alive per record, once the request that made it is gone.
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(records):
            writer.record(record(i, now))
        queued = (tracemalloc.get_traced_memory()[0] - before) / records
        tracemalloc.stop()

        stop = asyncio.Event()
        burners = [asyncio.create_task(burn(stop)) for _ in range(busy_tasks)]
        started = time.perf_counter()
        await writer.start()
        while writer.pending:  # noqa: ASYNC110 - the writer has no "drained" event to wait on
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*burners)
        await writer.close()
        stored = await db.count_records()
        await db.aclose()
    print(f"a queued record holds {queued:,.0f} bytes of heap")
    print(f"drained {records:,} records in {elapsed:.2f} s with {busy_tasks} busy coroutines: "
          f"{records / elapsed:,.0f} records/s; stored {stored:,}, dropped {writer.dropped}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--busy-tasks", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.records, args.busy_tasks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
