"""Dashboard page loads with 100,000 records in the store (issue 13: each under 1 s).

    .venv/bin/python -m bench.dashboard_bench [--records 100000] [--repeat 5]

Fills a fresh SQLite store through `Database.insert_records` (the writer's path) with
synthetic records over the last 24 hours, serves a real gateway on loopback, then times each
page's HTML (its SQL summaries included: the page embeds their data) and the JSON summaries
behind it, server to client over HTTP. Reports the median and worst of `--repeat` loads.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.dashboard_records import TOKEN, dashboard_gateway, synthetic_records

PAGES = ("traffic", "money", "speed", "protection", "quality", "requests")
# The JSON each page's data corresponds to, for scripts (same SQL as the page).
JSON = {
    "traffic": ["group_by=time,route,model&percentiles=false",
                "group_by=status,spill_reason&percentiles=false"],
    "money": ["group_by=team,key&percentiles=false", "group_by=task&percentiles=false"],
    "speed": ["group_by=model"],
    "protection": ["group_by=sensitivity,sensitive_where&percentiles=false"],
    "quality": ["group_by=route&percentiles=false"],
    "requests": ["limit=100"],
}


def timed(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    records = synthetic_records(args.records, 86400)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with dashboard_gateway(records, Path(tmp)) as url, httpx.Client(
                headers={"authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            print(f"stored {len(records)} records in {time.perf_counter() - started:.1f} s")
            since = time.time() - 86400
            print(f"{'page':<12}{'HTML p50 ms':>12}{'HTML max':>10}{'JSON p50 ms':>13}"
                  f"{'JSON max':>10}")
            for page in PAGES:
                timed(client, f"{url}/dashboard/{page}?range=24h")  # warm
                html = [timed(client, f"{url}/dashboard/{page}?range=24h")
                        for _ in range(args.repeat)]
                path = "/admin/requests" if page == "requests" else "/admin/summary"
                json_ms = [sum(timed(client, f"{url}{path}?since={since}&{q}")
                               for q in JSON[page]) for _ in range(args.repeat)]
                print(f"{page:<12}{statistics.median(html):>12.0f}{max(html):>10.0f}"
                      f"{statistics.median(json_ms):>13.0f}{max(json_ms):>10.0f}")


if __name__ == "__main__":
    main()
