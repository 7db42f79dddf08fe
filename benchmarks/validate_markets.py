"""``budgetopt validate`` against the number of markets (issue 14 item 14: it was quadratic).

    python benchmarks/validate_markets.py [--sizes 500,1000,2000,4000] [--weeks 60]

For each size N it writes, in a temporary folder:

- ``history``: a weekly history with a ``market`` column, N markets × W weeks × 3 touchpoints
  (what ``fit --by-market`` reads), validated with ``--journey``;
- ``index``: a ``markets.json`` index of N markets (each its own model file, as
  ``fit --by-market`` writes them) and a scenario on it with a national budget and a rule per
  market, validated as a scenario (the index is read, and the scenario checked against it as
  ``optimize`` checks it).

It times ``validate`` in-process (click's CliRunner, the CLI's own entry point; the median of
``--repeat`` runs) and prints seconds, seconds per market, and the ratio of each size's time to
the smallest size's. Linear work doubles with N (ratios about 1, 2, 4, 8 for 500..4000);
quadratic work quadruples (1, 4, 16, 64). Exit 0 whatever the numbers: this is a measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner  # noqa: E402

from optimizer.cli import cli  # noqa: E402

TPS = [("tv", "awareness"), ("search", "consideration"), ("email", "loyalty")]
JOURNEY = "kpi: revenue\ntouchpoints:\n" + "".join(f"- {{id: {t}, stage: {s}}}\n" for t, s in TPS)


def write_history(path: Path, n: int, weeks: int) -> None:
    dates = [(dt.date(2024, 1, 1) + dt.timedelta(weeks=w)).isoformat() for w in range(weeks)]
    with path.open("w", encoding="utf-8") as f:
        f.write("date,market,tv,search,email,revenue\n")
        for m in range(n):
            for w, d in enumerate(dates):
                f.write(f"{d},m{m:05d},{1000 + w},{2000 + m % 97},{300 + w % 7},{90000 + m + w}\n")


def write_index(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    markets = {}
    for m in range(n):
        name = f"m{m:05d}"
        model = {
            "kpi": "revenue",
            "period": "week",
            "touchpoints": {
                t: {
                    "stage": s,
                    "curve": {"family": "exponential", "beta": 1e5 + m, "scale": 5e4 + 10 * k},
                }
                for k, (t, s) in enumerate(TPS)
            },
        }
        (folder / f"{name}.json").write_text(json.dumps(model), encoding="utf-8")
        markets[name] = {"model": f"{name}.json", "keys": {"population": 1000 + m}}
    index = folder / "markets.json"
    index.write_text(
        json.dumps({"kpi": "revenue", "touchpoints": [t for t, _ in TPS], "markets": markets}),
        encoding="utf-8",
    )
    rules = "".join(f"  m{m:05d}: {{max: {1e6 + m}}}\n" for m in range(n))
    sc = folder / "scenario.yaml"
    sc.write_text(
        f"name: national\nmodel: markets.json\nhorizon_weeks: 13\nbudget: {1e5 * n}\n"
        f"markets:\n{rules}",
        encoding="utf-8",
    )
    return sc


def timed(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = CliRunner().invoke(cli, args)
        times.append(time.perf_counter() - t0)
        if r.exit_code != 0:
            raise SystemExit(f"validate failed: {r.output[-2000:]}")
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,1000,2000,4000")
    ap.add_argument("--weeks", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    rows: dict[str, list[float]] = {"history": [], "index": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
        for n in sizes:
            h = root / f"history{n}.csv"
            write_history(h, n, a.weeks)
            rows["history"].append(
                timed(["validate", str(h), "--journey", str(root / "journey.yaml")], a.repeat)
            )
            sc = write_index(root / f"index{n}", n)
            rows["index"].append(timed(["validate", str(sc)], a.repeat))
            print(
                f"{n} markets: history {rows['history'][-1]:.2f} s, index {rows['index'][-1]:.2f} s",
                flush=True,
            )
    print(
        f"\nvalidate, in-process, median of {a.repeat}; ratio = time / time at {sizes[0]} markets"
    )
    print("| what | markets | seconds | ms per market | ratio | markets ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for what, ts in rows.items():
        for n, t in zip(sizes, ts, strict=True):
            print(
                f"| {what} | {n:,} | {t:.2f} | {1000 * t / n:.2f} | {t / ts[0]:.1f} | "
                f"{n / sizes[0]:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
