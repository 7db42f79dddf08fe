"""Fit diagnostics as a terminal table."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from optimizer.formatting import ratio
from optimizer.formatting import share as fmt_share
from optimizer.response.model import ResponseModel


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if isinstance(d, dict) and k in d:
            return d[k]
    return None


#: measured by benchmarks/fit_recovery.py (docs/response-models.md, "Do the intervals hold the
#: truth?"); kept here in words, as printed under the fit's table: intervals from draws in the
#: betas or from bootstrap refits (no ``interval_draws``)
COVERAGE_NOTE = "69–73%, not 80%"
#: the same for intervals read from interval draws in the marginal response (the default fit's;
#: benchmarks/interval_coverage.py on the benchmark's worlds and fresh ones, 80.0-91.2% and
#: 64.3-87.7%; docs/response-models-measured.md, "The intervals' spread on fresh worlds")
COVERAGE_NOTE_MARGINAL = "64–91% (80% promised)"
#: the same where each interval draw also drew the pooling strength from its posterior
#: (``fit.options.pool_draws``, the default fit's since 2026-12-07): 82.0-95.0% on the eight sets
#: (benchmark and fresh worlds; docs/response-models-measured.md, "The pooling weight's
#: uncertainty in the interval draws")
COVERAGE_NOTE_POOLED = "82–95% (80% promised)"
#: a fit with lift tests (a bootstrap of the MAP) since 2026-12-07: the untested touchpoints'
#: intervals from the Laplace interval draws, the tested ones' from the refits, their marginal
#: response spread x uncertainty_inflate in the interval draws (``BAND_SPREAD="split_interval"``);
#: benchmarks/interval_coverage.py --lift-tests 3 on fresh and benchmark worlds, low / high x 8 /
#: 15 touchpoints (docs/response-models-measured.md, "Lift-test fits' bands: the Laplace sets for
#: the untested touchpoints" and "... the tested touchpoints' refits spread in their marginal
#: response")
COVERAGE_NOTE_LIFT = "80–94% of the untested touchpoints and 87–98% of the tested (80% promised)"


def diagnostics_renderable(model: ResponseModel) -> Group:
    d = dict(model.diagnostics)
    head = Text.assemble(
        ("fit ", "bold"),
        f"{model.kpi}: ",
        f"R² {ratio(_get(d, 'r2'), 3)}  ·  holdout MAPE "
        f"{ratio(100 * (_get(d, 'mape_holdout') or float('nan')), 1)}%  ·  NRMSE "
        f"{ratio(_get(d, 'nrmse_holdout'), 3)}  ·  {_get(d, 'n_weeks')} weeks",
    )
    # the intervals are read from the interval draws where the model has them
    draws = max((len(tp.shown_draws) for tp in model.touchpoints.values()), default=0)
    t = Table(box=box.SIMPLE_HEAD)
    cols = (
        "touchpoint",
        "stage",
        "curve",
        "decay",
        "share",
        "ROI",
        "marginal ROI",
        *(("mROI 80% interval",) if draws else ()),
        "notes",
    )
    for col in cols:
        t.add_column(
            col, justify="left" if col in ("touchpoint", "stage", "curve", "notes") else "right"
        )
    for tid, tp in model.touchpoints.items():
        dg = dict(tp.diagnostics)
        share = _get(dg, "contribution_share")
        notes = list(dg.get("warnings") or [])
        if dg.get("identifiable") is False and not any(
            str(n).startswith("not identifiable") for n in notes
        ):  # the fit's own warning may say it already, with the reason
            notes.insert(0, "not identifiable")
        band = dg.get("marginal_roi_interval_80")
        interval = (
            (f"{ratio(band[0], 2)}–{ratio(band[1], 2)}",)
            if draws and band
            else (("–",) if draws else ())
        )
        t.add_row(
            tid,
            tp.stage,
            tp.curve.family,
            ratio(tp.adstock.decay if tp.adstock else 0.0, 2),
            fmt_share(share),
            ratio(_get(dg, "roi"), 2),
            ratio(_get(dg, "marginal_roi"), 2),
            *interval,
            "; ".join(notes),
        )
    parts: list[Any] = [head, t]
    shown = ((model.diagnostics or {}).get("uncertainty") or {}).get("interval_draws") or {}
    # drawn over the pooling weight's posterior only where the fit had one to draw from (a fit
    # with nothing to pool records the option but has no posterior: its draws are plain Laplace)
    pooled = ((model.fit or {}).get("options") or {}).get("pool_draws") in (
        "intervals",
        "all",
    ) and bool(((model.diagnostics or {}).get("pooling") or {}).get("posterior"))
    banded = any(tp.band_draws for tp in model.touchpoints.values())
    boot = ((model.diagnostics or {}).get("uncertainty") or {}).get("method") == "bootstrap"
    if draws and shown and boot:  # a fit with lift tests (mapboot.py)
        parts.append(
            Text(
                f"mROI 80% interval: 10th–90th percentile over {draws} draws: an untested "
                "touchpoint's taken from the posterior around the fit in its marginal return at "
                "its mean spend"
                + (", each at a pooling strength drawn from its posterior" if pooled else "")
                + ", a tested touchpoint's from the bootstrap refits spread by the fit's "
                "uncertainty_inflate (model.json interval_draws). On simulated worlds with three "
                f"lift tests such intervals held the truth for {COVERAGE_NOTE_LIFT}. The robust "
                "plans use the refits as drawn (model.json draws; docs/response-models.md).",
                style="dim",
            )
        )
    elif draws and shown.get("space") == "marginal" and shown.get("scale") == "linear":
        held = (
            f"{COVERAGE_NOTE_POOLED} of touchpoints"
            if pooled
            else f"{COVERAGE_NOTE_MARGINAL} of touchpoints, the fewest where the fit pooled every "
            "touchpoint onto one marginal return (it warns)"
        )
        parts.append(
            Text(
                f"mROI 80% interval: 10th–90th percentile over {draws} posterior draws taken in "
                "each touchpoint's marginal return at its mean spend"
                + (", each at a pooling strength drawn from its posterior" if pooled else "")
                + " (model.json interval_draws). On simulated worlds with known curves such "
                f"intervals held the truth for {held}. "
                + (
                    "The ROI intervals and the curves' bands use draws in the betas, each at its "
                    "own pooling strength too (model.json band_draws); the robust plans the same "
                    "draws at the fit's (model.json draws; docs/response-models.md)."
                    if banded
                    else "The ROI intervals, the curves' bands and the robust plans use the "
                    "draws in the betas (model.json draws; docs/response-models.md)."
                ),
                style="dim",
            )
        )
    elif draws:
        parts.append(
            Text(
                f"mROI 80% interval: 10th–90th percentile over {draws} posterior draws"
                + (
                    ", each at a pooling strength drawn from its posterior (model.json band_draws)"
                    if banded
                    else ""
                )
                + ". On simulated "
                f"worlds with known curves such intervals held the truth for {COVERAGE_NOTE} of "
                "touchpoints: read them as a lower bound on the uncertainty, the more so far from the "
                "spend seen (docs/response-models.md).",
                style="dim",
            )
        )
    for w in d.get("warnings") or []:
        parts.append(Text(f"warning: {w}", style="yellow"))
    return Group(*parts)
