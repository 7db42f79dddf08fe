"""Fingerprints of the fitter's output for a behaviour-preserving refactor: the sha256 of the model
files of fits that together run every path of the MAP and grid fits, before and after a change.

    .venv/bin/python benchmarks/fit_fingerprint.py before.json            # on the old code
    .venv/bin/python benchmarks/fit_fingerprint.py after.json --against before.json

The fits (about 40 s on 2 cores): the CLI's ``fit`` of the sample company (``--seed 7``); ``fit
--by-market`` of a three-market world (``--bootstrap 4``, every file it writes); and
``fit_model(seed=0)`` of two benchmark worlds (the quick low-information set's first two) with
``decay_posterior="grid"``, ``average_families=True``, ``pool_space="log"`` with marginal
interval draws, the MAP bootstrap, lift tests (bootstrap, and Laplace with family averaging and log
pooling) and the grid method (with and without lift tests); an API model's fingerprint is that of
``json.dumps(model.to_dict(), sort_keys=True)``. A fingerprint is bit-level: it holds across
reruns on one machine and numpy build, not across them (compare runs made in the same
environment). Prints each fingerprint; with ``--against``, each one that changed, and exits 0
either way (a measurement, as every script here).

``--drop KEY …`` fingerprints every model file with those keys removed wherever they occur (each
file read as JSON and dumped with sorted keys, on both runs): a change that adds a key proves
everything else bit-identical, e.g. model.json ``band_draws``:

    PYTHONPATH=/path/to/clean/main .venv/bin/python benchmarks/fit_fingerprint.py before.json \
        --drop band_draws
    .venv/bin/python benchmarks/fit_fingerprint.py after.json --against before.json --drop band_draws
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

#: the API fits of each world: ``fit_model`` options (``lift``: with that many simulated lift tests
#: per touchpoint, of the first three touchpoints)
VARIANTS: dict[str, dict[str, Any]] = {
    "grid": {"decay_posterior": "grid"},
    "average": {"average_families": True},
    "logpool": {"pool_space": "log", "interval_space": "marginal"},
    "bootstrap": {"uncertainty": "bootstrap", "n_bootstrap": 6},
    "lift": {"n_bootstrap": 6, "lift": 1},
    "lift_laplace": {
        "uncertainty": "laplace",
        "average_families": True,
        "pool_space": "log",
        "lift": 1,
    },
    "grid_method": {"method": "grid", "n_bootstrap": 6},
    "grid_method_lift": {"method": "grid", "n_bootstrap": 6, "lift": 1},
}


#: keys left out of every fingerprint (``--drop``)
DROP: set[str] = set()


def _without(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _without(v) for k, v in d.items() if k not in DROP}
    if isinstance(d, list):
        return [_without(v) for v in d]
    return d


def _sha(data: bytes) -> str:
    if DROP:
        data = json.dumps(_without(json.loads(data)), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def _cli(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "optimizer", *args], check=True, capture_output=True, cwd=cwd
    )


def fingerprints(tmp: Path) -> dict[str, str]:
    """Every fit's fingerprint, by name."""
    from _fit_cases import regime_cases
    from _fit_measure import simulate_lift_tests
    from _markets_world import market_world

    from optimizer.response.fit import fit_model

    out: dict[str, str] = {}
    sample = ROOT / "optimizer" / "sample"
    _cli(
        "fit",
        "--journey",
        str(sample / "journey.yaml"),
        "--history",
        str(sample / "history.csv"),
        "-o",
        str(tmp / "sample.json"),
        "--seed",
        "7",
        cwd=tmp,
    )
    out["cli/sample"] = _sha((tmp / "sample.json").read_bytes())
    world = market_world(3, 4, seed=5, n_weeks=104)
    world.history().to_csv(tmp / "h.csv", index=False)
    (tmp / "j.yaml").write_text(yaml.safe_dump(world.journey()))
    _cli("fit", "--journey", "j.yaml", "--history", "h.csv", "--by-market", "-o", "mk",
         "--bootstrap", "4", "--seed", "3", cwd=tmp)  # fmt: skip
    for f in sorted((tmp / "mk").glob("*.json")):
        out[f"cli/by-market/{f.name}"] = _sha(f.read_bytes())
    for case in regime_cases("low", 8, True, tmp)[:2]:
        for name, opts in VARIANTS.items():
            kw = dict(opts)
            if kw.pop("lift", 0):
                kw["calibration"] = simulate_lift_tests(case, 1)[:3]
            model = fit_model(case.history, seed=0, **kw)
            doc = json.dumps(model.to_dict(), sort_keys=True).encode()
            out[f"api/{case.name}/{name}"] = _sha(doc)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="where to write the fingerprints (JSON)")
    ap.add_argument("--against", type=Path, help="fingerprints of an earlier run to compare")
    ap.add_argument("--drop", nargs="+", default=[], metavar="KEY", help="keys left out")
    a = ap.parse_args(argv)
    DROP.update(a.drop)
    with tempfile.TemporaryDirectory() as tmp:
        now = fingerprints(Path(tmp))
    a.out.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    for name, h in now.items():
        print(f"{h[:16]}  {name}")
    if a.against is not None:
        before = json.loads(a.against.read_text())
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        for k in changed:
            print(f"CHANGED {k}: {before.get(k, '-')[:16]} -> {now.get(k, '-')[:16]}")
        print(f"{len(now) - len(changed)} of {len(now)} identical" if changed else "ALL IDENTICAL")


if __name__ == "__main__":
    main()
