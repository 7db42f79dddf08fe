"""Fit PyMC-Marketing's example MMM to a weekly CSV and write what budgetopt's benchmark compares.

Runs in ``benchmarks/peers/.venv`` (made by ``setup.sh``: PyMC-Marketing 1.3 needs Python >= 3.12),
called by ``benchmarks/fit_recovery.py`` as a subprocess; it imports nothing from budgetopt.

The model is the one of PyMC-Marketing's example notebook (``mmm_example.ipynb``):
``GeometricAdstock(l_max=8)`` (normalised weights) + ``LogisticSaturation()`` with the library's
default priors, the given control columns plus a linear trend column ``t`` (the notebook's), and
``yearly_seasonality=2``. Sampling uses nutpie, passed explicitly (PyMC would pick it silently
whenever it is installed), ``--chains`` x (``--tune`` + ``--draws``).

Writes ``--out`` (JSON): per channel the steady-state ROAS and marginal ROAS at the mean weekly
spend (posterior mean and central 90% interval over the draws), the fit time, and sampler
diagnostics; and ``--model`` (contract 3, ``model.json``): the curves converted to budgetopt's
model file, the posterior mean of each parameter as the point curve and ``--model-draws``
posterior draws as ``draws``. The conversion (docs/file-formats.md, "Converting PyMC-Marketing
parameters"): ``decay = alpha``, adstock ``{"normalize": true, "max_lag": l_max}``,
``beta = saturation_beta * target_scale``, ``lam = lam / channel_scale``, with the scales the
model's own ``scalers["_target"]`` and ``scalers["_channel"]``.

    .venv/bin/python pymc_marketing_runner.py --csv data.csv --date date --target y \\
        --channels x1 x2 --controls event_1 event_2 --out fit.json --model model.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

L_MAX = 8
YEARLY_SEASONALITY = 2


def logistic(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    return (1.0 - np.exp(-lam * x)) / (1.0 + np.exp(-lam * x))


def logistic_slope(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    e = np.exp(-lam * x)
    return 2.0 * lam * e / (1.0 + e) ** 2


def _scale(ds, name: str, channels: list[str]) -> np.ndarray:
    """A scaler from ``mmm.scalers`` as one number per channel (or a scalar for the target)."""
    v = ds[name]
    if "channel" in v.dims:
        return np.asarray(v.sel(channel=channels).values, dtype=float).reshape(-1)
    return np.asarray(v.values, dtype=float).reshape(-1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--date", default="date", help="the date column")
    ap.add_argument("--target", required=True)
    ap.add_argument("--channels", nargs="+", required=True)
    ap.add_argument("--controls", nargs="*", default=[])
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-draws", type=int, default=100, help="posterior draws in model.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--kpi-name", default=None, help="the KPI's name in model.json")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    t_import = time.perf_counter()
    from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

    import_seconds = time.perf_counter() - t_import

    df = pd.read_csv(args.csv, parse_dates=[args.date])
    df["t"] = np.arange(len(df), dtype=float)
    controls = [*args.controls, "t"]
    X = df[[args.date, *args.channels, *controls]]
    y = df[args.target].astype(float)

    t0, c0 = time.perf_counter(), time.process_time()
    mmm = MMM(
        date_column=args.date,
        channel_columns=list(args.channels),
        control_columns=controls,
        target_column=args.target,
        adstock=GeometricAdstock(l_max=L_MAX),
        saturation=LogisticSaturation(),
        yearly_seasonality=YEARLY_SEASONALITY,
    )
    mmm.fit(
        X,
        y,
        chains=args.chains,
        tune=args.tune,
        draws=args.draws,
        random_seed=args.seed,
        nuts_sampler="nutpie",
        progressbar=False,
    )
    fit_seconds = time.perf_counter() - t0
    fit_cpu_seconds = time.process_time() - c0  # every thread of this process (nutpie's too)

    post = mmm.idata.posterior
    chans = list(args.channels)
    alpha = post["adstock_alpha"].sel(channel=chans).stack(s=("chain", "draw")).values  # (ch, S)
    lam = post["saturation_lam"].sel(channel=chans).stack(s=("chain", "draw")).values
    beta = post["saturation_beta"].sel(channel=chans).stack(s=("chain", "draw")).values
    scalers = mmm.scalers
    c_scale = _scale(scalers, "_channel", chans)
    t_scale = float(_scale(scalers, "_target", chans)[0])
    lam_o = lam / c_scale[:, None]  # per money of (normalised, so steady = spend) adstock
    beta_o = beta * t_scale

    out_ch = {}
    for i, ch in enumerate(chans):
        s = float(df[ch].mean())
        # normalised adstock: the steady state of a steady weekly spend s is s
        roas = beta_o[i] * logistic(s, lam_o[i]) / s
        mroas = beta_o[i] * logistic_slope(s, lam_o[i])
        out_ch[ch] = {
            "mean_spend": s,
            "roas": {
                "mean": float(roas.mean()),
                "median": float(np.median(roas)),
                "lo90": float(np.percentile(roas, 5)),
                "hi90": float(np.percentile(roas, 95)),
                "lo80": float(np.percentile(roas, 10)),
                "hi80": float(np.percentile(roas, 90)),
            },
            "mroas": {
                "mean": float(mroas.mean()),
                "median": float(np.median(mroas)),
                "lo90": float(np.percentile(mroas, 5)),
                "hi90": float(np.percentile(mroas, 95)),
                "lo80": float(np.percentile(mroas, 10)),
                "hi80": float(np.percentile(mroas, 90)),
            },
            "posterior_mean": {
                "alpha": float(alpha[i].mean()),
                "lam": float(lam[i].mean()),
                "saturation_beta": float(beta[i].mean()),
            },
            "channel_scale": float(c_scale[i]),
        }
    stats = mmm.idata.get("sample_stats")
    divergences = (
        int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else None
    )
    n_s = alpha.shape[1]
    pick = np.linspace(0, n_s - 1, min(args.model_draws, n_s)).round().astype(int)
    try:
        import arviz as az

        rhat = float(
            max(
                np.nanmax(np.asarray(az.rhat(post[v].values.reshape(*post[v].shape[:2], -1))))
                for v in ("adstock_alpha", "saturation_lam", "saturation_beta")
            )
        )
    except Exception as exc:  # diagnostics are extra: never fail the run on them
        print(f"pymc_marketing_runner: no R-hat ({exc})", file=sys.stderr)
        rhat = None
    # PyMC-Marketing's own weekly contribution of each channel for the first draw written to
    # model.json, in KPI units: the harness checks the converted curves reproduce it
    check = None
    if "channel_contribution" in post:
        cc = post["channel_contribution"].sel(channel=chans).stack(s=("chain", "draw"))
        cc = cc.transpose("channel", "date", "s").values[:, :, pick[0]] * t_scale
        check = {
            "sample": int(pick[0]),
            "contribution": {ch: cc[i].tolist() for i, ch in enumerate(chans)},
        }

    def adstock(a: float) -> dict:
        return {"family": "geometric", "decay": a, "normalize": True, "max_lag": L_MAX}

    def curve(b: float, lm: float) -> dict:
        return {"family": "logistic", "beta": b, "lam": lm}

    model = {
        "kpi": args.kpi_name or args.target,
        "period": "week",
        "touchpoints": {
            ch: {
                "stage": "awareness",
                "curve": curve(float(beta_o[i].mean()), float(lam_o[i].mean())),
                "adstock": adstock(float(alpha[i].mean())),
                "draws": [
                    {
                        "curve": curve(float(beta_o[i, k]), float(lam_o[i, k])),
                        "adstock": adstock(float(alpha[i, k])),
                    }
                    for k in pick
                ],
                "diagnostics": {"source": "PyMC-Marketing posterior mean"},
            }
            for i, ch in enumerate(chans)
        },
        "diagnostics": {
            "source": f"pymc-marketing {version('pymc-marketing')} (example notebook model)",
            "draws": int(len(pick)),
        },
    }
    args.model.write_text(json.dumps(model, indent=1) + "\n")
    result = {
        "tool": "pymc-marketing",
        "versions": {p: version(p) for p in ("pymc-marketing", "pymc", "nutpie", "pytensor")},
        "python": sys.version.split()[0],
        "sampler": {
            "nuts_sampler": "nutpie",
            "chains": args.chains,
            "tune": args.tune,
            "draws": args.draws,
            "seed": args.seed,
            "divergences": divergences,
            "rhat_max": rhat,
        },
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "import_seconds": import_seconds,
        "target_scale": t_scale,
        "channels": out_ch,
        "check": check,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
