"""PyMC-Marketing side by side, for ``fit_recovery.py``.

``peers/setup.sh`` makes ``peers/.venv`` (Python >= 3.12, ``pymc-marketing==1.3.*``, nutpie);
``peers/pymc_marketing_runner.py`` runs in it, fits PyMC-Marketing's example-notebook MMM to a CSV
and writes its steady-state ROAS and marginal ROAS at the mean weekly spend (90% intervals), its
fit time, and its curves converted to budgetopt's model file (contract 3, with posterior draws).
This module writes a data set's history as that CSV, runs the runner as a subprocess, and reads
the results back. Where the venv is absent, :func:`available` says why and the benchmark skips
this part.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.response.model import ResponseModel, read_model

PEERS = Path(__file__).resolve().parent / "peers"
VENV_PYTHON = PEERS / ".venv" / "bin" / "python"
RUNNER = PEERS / "pymc_marketing_runner.py"
#: the sampler settings measured in issue 13 (2 chains x 500 + 500, nutpie)
CHAINS, TUNE, DRAWS = 2, 500, 500
TIMEOUT_SECONDS = 1800


def available() -> str | None:
    """None when the peers venv is there, else the reason it is not (one line)."""
    if not VENV_PYTHON.exists():
        return (
            f"PyMC-Marketing side by side skipped: {VENV_PYTHON} not found "
            "(make it with `bash benchmarks/peers/setup.sh`; PyMC-Marketing 1.3 needs Python >= 3.12)"
        )
    return None


@dataclass
class PeerFit:
    """What the runner wrote for one data set."""

    name: str
    model: ResponseModel  # its curves in contract 3, posterior draws as ``draws``
    channels: dict[str, dict[str, Any]]  # per channel: mean_spend, roas / mroas mean + intervals
    fit_seconds: float  # inside the runner: build, compile and sample
    fit_cpu_seconds: float | None  # CPU time of the runner's process over the same span
    wall_seconds: float  # the whole subprocess, Python start-up and imports included
    versions: dict[str, str]
    sampler: dict[str, Any]
    check_error: float | None = None  # max |its contribution - ours from the converted curves|
    check_scale: float | None = None  # the largest weekly contribution, for reading the error
    raw: dict[str, Any] = field(default_factory=dict)


def run(
    name: str,
    frame: Any,
    kpi: str,
    channels: list[str],
    controls: list[str],
    workdir: Path,
    seed: int = 0,
) -> PeerFit:
    """Fit PyMC-Marketing's example model to ``frame`` (a history's weekly frame, indexed by
    date) through the runner; raise ``RuntimeError`` with its stderr's tail if it fails."""
    out_dir = workdir / f"pymc_{name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "data.csv"
    data = frame[[*channels, kpi, *controls]].copy()
    data.insert(0, "date", [str(d)[:10] for d in data.index])
    data.to_csv(csv, index=False)
    cmd = [
        str(VENV_PYTHON),
        str(RUNNER),
        "--csv",
        str(csv),
        "--date",
        "date",
        "--target",
        kpi,
        "--channels",
        *channels,
        "--out",
        str(out_dir / "fit.json"),
        "--model",
        str(out_dir / "model.json"),
        "--chains",
        str(CHAINS),
        "--tune",
        str(TUNE),
        "--draws",
        str(DRAWS),
        "--seed",
        str(seed),
    ]
    if controls:
        cmd += ["--controls", *controls]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, cwd=out_dir, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(
            f"PyMC-Marketing runner failed on {name} (exit {proc.returncode}):\n{tail}"
        )
    res = json.loads((out_dir / "fit.json").read_text())
    model = read_model(out_dir / "model.json")
    fit = PeerFit(
        name,
        model,
        res["channels"],
        float(res["fit_seconds"]),
        res.get("fit_cpu_seconds"),
        wall,
        res["versions"],
        res["sampler"],
        raw=res,
    )
    chk = res.get("check")
    if chk:
        # the converted curves of the checked draw, on the history's spend, against PyMC's own
        # channel contributions of that draw
        k = list(range(len(next(iter(model.touchpoints.values())).draws)))
        errs, scale = [], 0.0
        for ch, theirs in chk["contribution"].items():
            tp = model.touchpoints[ch]
            curve, adstock = tp.draws[k[0]]
            x = frame[ch].to_numpy(dtype=float)
            ours = np.asarray(curve(adstock.transform(x)), dtype=float)
            errs.append(float(np.max(np.abs(ours - np.asarray(theirs)))))
            scale = max(scale, float(np.max(np.abs(theirs))))
        fit.check_error, fit.check_scale = max(errs), scale
    return fit


def python_version() -> str:
    return sys.version.split()[0]


# ------------------------------------------------------------------------------------------------
# side by side
# ------------------------------------------------------------------------------------------------
@dataclass
class ChannelRow:
    id: str
    mean_spend: float
    true_roas: float
    true_mroas: float
    peer_roas: tuple[float, float, float]  # posterior mean, 5%, 95%
    peer_mroas: tuple[float, float, float]
    ours_roas: tuple[float, float, float]  # point, 5%, 95% of our draws
    ours_mroas: tuple[float, float, float]


@dataclass
class SideBySide:
    name: str
    regime: str  # "public" | "low" | "high"
    rows: list[ChannelRow]
    peer: PeerFit
    ours_seconds: float
    captured: dict[str, float]  # plan -> share of the uplift captured, on the true curves
    regrets: dict[str, Any]  # plan -> Regret (for pooling)

    def mae(self, tool: str, what: str = "both") -> float:
        errs = []
        for r in self.rows:
            for kind, true in (("roas", r.true_roas), ("mroas", r.true_mroas)):
                if what in (kind, "both"):
                    est = getattr(r, f"{tool}_{kind}")[0]
                    errs.append(abs(est - true) / abs(true))
        return float(np.mean(errs))

    def coverage(self, tool: str) -> float:
        hits = []
        for r in self.rows:
            for kind, true in (("roas", r.true_roas), ("mroas", r.true_mroas)):
                _, lo, hi = getattr(r, f"{tool}_{kind}")
                hits.append(lo <= true <= hi)
        return float(np.mean(hits))


def _our_band(tp: Any, x: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    point_r = float(tp.weekly_kpi(x)) / x
    point_m = float(tp.weekly_marginal(x))
    # each band from the draws its printed interval is read from: the marginal return's from the
    # interval draws (else the plans'), the ROAS's (a level) from the bands' draws (band_draws,
    # else the plans')
    draws, shown = tp.band_responses(), tp.interval_draw_responses()
    if not draws:
        return (point_r, np.nan, np.nan), (point_m, np.nan, np.nan)
    r = [float(d.weekly_kpi(x)) / x for d in draws]
    m = [float(d.weekly_marginal(x)) for d in shown]
    return (
        (point_r, float(np.percentile(r, 5)), float(np.percentile(r, 95))),
        (point_m, float(np.percentile(m, 5)), float(np.percentile(m, 95))),
    )


def side_by_side(result: Any, workdir: Path, regret: Any) -> SideBySide:
    """PyMC-Marketing on ``result.case`` (a ``fit_recovery.Result``) beside our fit.

    ``regret(case, model, robust)`` is the benchmark's ``decision_regret``: the plan made by OUR
    allocator on a model's curves (``robust``: on the mean over its draws), valued on the truth."""
    case = result.case
    hist = case.history
    journey = hist.journey
    chans = list(case.truth.touchpoints)
    controls = [*journey.controls, *journey.events]
    peer = run(case.name, hist.frame, journey.kpi, chans, controls, workdir)
    rows = []
    for ch in chans:
        ttp = case.truth.touchpoints[ch]
        x = float(hist.frame[ch].mean())
        pr, pm = peer.channels[ch]["roas"], peer.channels[ch]["mroas"]
        ours_r, ours_m = _our_band(result.model.touchpoints[ch], x)
        rows.append(
            ChannelRow(
                ch,
                x,
                float(ttp.weekly_kpi(x)) / x,
                float(ttp.weekly_marginal(x)),
                (pr["mean"], pr["lo90"], pr["hi90"]),
                (pm["mean"], pm["lo90"], pm["hi90"]),
                ours_r,
                ours_m,
            )
        )
    regrets = {
        "ours": result.regret,
        "ours, mean over draws": result.robust,
        "PyMC-Marketing": regret(case, peer.model, False),
        "PyMC-Marketing, mean over draws": regret(case, peer.model, True),
    }
    return SideBySide(
        case.name,
        case.regime or "public",
        rows,
        peer,
        result.seconds,
        {k: (g.captured if g is not None else float("nan")) for k, g in regrets.items()},
        regrets,
    )


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


def _num(v: float) -> str:
    a = abs(v)
    if not np.isfinite(v):
        return "–"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def channel_table(s: SideBySide, say: Any) -> None:
    """Per channel: truth, PyMC-Marketing (posterior mean, 90%), ours (point, 90% of draws)."""
    say(
        "| channel | mean weekly spend | ROAS true | PyMC-Marketing (90%) | ours (90%) | mROAS true "
        "| PyMC-Marketing (90%) | ours (90%) |"
    )
    say("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in s.rows:

        def cell(v: tuple[float, float, float], true: float) -> str:
            return f"{_num(v[0])} ({_pct((v[0] - true) / true, True)}; {_num(v[1])}–{_num(v[2])})"

        say(
            f"| {r.id} | {_num(r.mean_spend)} | {_num(r.true_roas)} | {cell(r.peer_roas, r.true_roas)} "
            f"| {cell(r.ours_roas, r.true_roas)} | {_num(r.true_mroas)} | "
            f"{cell(r.peer_mroas, r.true_mroas)} | {cell(r.ours_mroas, r.true_mroas)} |"
        )


def summary_table(rows: list[SideBySide], pooled: Any, say: Any) -> None:
    """One line per data set and tool, then the pooled capture over the simulated worlds."""
    say(
        "| data set | tool | ROAS + mROAS MAE | ROAS MAE | mROAS MAE | 90% coverage | captured "
        "(point) | captured (mean over draws) | fit time |"
    )
    say("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in rows:
        for tool, label, sec, keys in (
            (
                "peer",
                "PyMC-Marketing",
                f"{s.peer.fit_seconds:.0f} s (CPU {s.peer.fit_cpu_seconds or float('nan'):.0f} s; "
                f"{s.peer.wall_seconds:.0f} s with start-up; "
                f"{s.peer.sampler.get('divergences')} divergences, R-hat "
                f"{s.peer.sampler.get('rhat_max') or float('nan'):.2f})",
                ("PyMC-Marketing", "PyMC-Marketing, mean over draws"),
            ),
            (
                "ours",
                "budgetopt",
                f"{s.ours_seconds:.1f} s",
                ("ours", "ours, mean over draws"),
            ),
        ):
            say(
                f"| {s.name} ({s.regime}) | {label} | {_pct(s.mae(tool))} | "
                f"{_pct(s.mae(tool, 'roas'))} | {_pct(s.mae(tool, 'mroas'))} | "
                f"{_pct(s.coverage(tool))} | {_pct(s.captured[keys[0]])} | "
                f"{_pct(s.captured[keys[1]])} | {sec} |"
            )
    sims = [s for s in rows if s.regime != "public"]
    if sims:
        parts = []
        for key in s.regrets:
            parts.append(f"{key} {_pct(pooled([x.regrets[key] for x in sims]))}")
        say(
            f"\nPooled capture over these {len(sims)} simulated worlds (our allocator on each "
            "tool's curves, valued on the truth): " + "; ".join(parts)
        )
        peer_t = [s.peer.fit_seconds for s in rows]
        ours_t = [s.ours_seconds for s in rows]
        say(
            f"Fit time over the {len(rows)} data sets, same run: PyMC-Marketing median "
            f"{np.median(peer_t):.0f} s (2 chains x {TUNE} + {DRAWS}, nutpie), budgetopt median "
            f"{np.median(ours_t):.1f} s (with its draws): PyMC-Marketing / budgetopt "
            f"{np.median(np.array(peer_t) / np.maximum(ours_t, 1e-9)):.0f}x (median of the ratios)"
        )
    checks = [
        s.peer.check_error / s.peer.check_scale for s in rows if s.peer.check_error is not None
    ]
    if checks:
        say(
            "Conversion check: the converted curves of one posterior draw reproduce PyMC-Marketing's "
            f"own channel contributions to {max(checks):.1e} of the largest weekly contribution "
            f"(worst of {len(checks)} data sets)"
        )
    v = rows[0].peer.versions
    say(
        f"(PyMC-Marketing {v.get('pymc-marketing')}, PyMC {v.get('pymc')}, nutpie "
        f"{v.get('nutpie')}; example-notebook model: GeometricAdstock(l_max=8) + "
        "LogisticSaturation, controls + trend, yearly_seasonality=2; MAE: mean |estimate - "
        "truth| / truth of steady-state ROAS and marginal ROAS at each channel's mean weekly "
        "spend (PyMC-Marketing: posterior mean; ours: the fitted curve); coverage: truth inside "
        "the 90% interval, ROAS and mROAS together)"
    )
