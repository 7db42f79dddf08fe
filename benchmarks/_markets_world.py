"""Simulated multi-market worlds with known truth, for ``benchmarks/markets.py`` and the pooled-fit
measurement.

A world is one national company whose touchpoints work the same way everywhere up to market
size, plus each market's own deviation: market ``m`` has a size ``s_m`` (log-uniform 0.2–3), and
touchpoint ``t`` in market ``m`` has

* spend ``s_m ×`` the national spend pattern (its own noise: each market is simulated apart);
* a curve of the touchpoint's family whose spend axis is scaled by ``s_m`` (half-saturation, scale
  or ``1/lam`` times ``s_m``) and whose height is ``s_m × beta_t × exp(tau z_tm - tau²/2)``,
  ``z_tm`` standard normal: the market's own effectiveness, spread ``tau`` around the national
  level;
* the market's baseline ``s_m ×`` the national one, with its own seasonality draw and noise.

So a touchpoint's return per dollar at the market's usual spend differs across markets only by
``exp(tau z)``: the quantity a hierarchical fit pools. ``population`` in the index is ``s_m``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.simulate import TouchpointTruth, WorldSpec, _calibrated_params, simulate
from optimizer.vocabulary import STAGES

OWNERS = ("Brand team", "Performance team", "Performance team", "E-commerce team", "CRM team")


@dataclasses.dataclass(frozen=True)
class MarketWorld:
    names: tuple[str, ...]
    sizes: tuple[float, ...]
    specs: tuple[WorldSpec, ...]  # one per market

    def truth_models(self):
        """The true curves of every market (``ResponseModel``s keyed by market)."""
        from optimizer.response.model import ResponseModel

        return {
            m: ResponseModel(
                kpi=spec.kpi, touchpoints={t.id: t.response() for t in spec.touchpoints}
            )
            for m, spec in zip(self.names, self.specs, strict=True)
        }

    def write_truth(self, out: Path) -> Path:
        """Each market's true model and the ``markets.json`` index (keys: population)."""
        from optimizer.response.model import write_model

        out.mkdir(parents=True, exist_ok=True)
        index = {"kpi": "revenue", "touchpoints": [t.id for t in self.specs[0].touchpoints]}
        index["markets"] = {}
        for (m, model), s in zip(self.truth_models().items(), self.sizes, strict=True):
            write_model(model, out / f"{m}.json")
            index["markets"][m] = {"model": f"{m}.json", "keys": {"population": s}}
        (out / "markets.json").write_text(json.dumps(index, indent=1))
        return out / "markets.json"

    def history(self) -> pd.DataFrame:
        """Every market's simulated weekly history, one file's worth (a ``market`` column)."""
        parts = []
        for m, spec in zip(self.names, self.specs, strict=True):
            h = simulate(spec).history
            h.insert(1, "market", m)
            parts.append(h)
        return pd.concat(parts, ignore_index=True)

    def journey(self) -> dict:
        from optimizer.simulate import journey_dict

        return journey_dict(self.specs[0])


def market_world(
    n_markets: int = 5,
    n_touchpoints: int = 6,
    seed: int = 0,
    *,
    tau: float = 0.3,
    families: tuple[str, ...] = ("hill", "exponential", "logistic"),
    n_weeks: int = 156,
    noise_sd: float = 0.05,
    sizes: tuple[float, float] = (0.2, 3.0),
    decays: tuple[float, float] = (0.0, 0.6),
    decay_spread: float = 0.0,
    spend_cv: float = 0.5,
) -> MarketWorld:
    """A world of ``n_markets`` markets (see the module docstring) of sizes log-uniform in
    ``sizes``; a market's noise is ``noise_sd / sqrt(size)`` of its mean KPI (capped at 25%):
    small markets are noisier. Each touchpoint's adstock decay is uniform in ``decays`` and the
    same in every market, unless ``decay_spread``: then market ``m``'s is the touchpoint's plus
    ``U(-decay_spread, decay_spread)``, kept in [0, 0.85] (the markets' carry-overs differ)."""
    rng = np.random.default_rng([seed, 16])
    # the markets' own decays from a stream of their own: the other draws stay as they were
    spread_rng = np.random.default_rng([seed, 16, 2])
    national = []
    for _ in range(n_touchpoints):
        family = str(rng.choice(families))
        decay = round(float(rng.uniform(*decays)), 3)
        mean_spend = round(float(np.exp(rng.uniform(np.log(5_000), np.log(80_000)))), -2)
        roi = float(np.exp(rng.uniform(np.log(0.5), np.log(4.0))))
        shape = round(float(rng.uniform(0.7, 1.0)), 3)
        ratio = float(rng.uniform(0.5, 2.0))
        national.append((family, decay, mean_spend, roi, shape, ratio))
    size = np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]), n_markets))
    names = tuple(f"mk{j + 1:02d}" for j in range(n_markets))
    specs = []
    media_per_size = sum(roi * ms for _f, _d, ms, roi, _s, _r in national)
    for j, s in enumerate(size):
        tps = []
        for i, (family, national_decay, ms, roi, shape, ratio) in enumerate(national):
            eff = float(np.exp(tau * rng.standard_normal() - tau**2 / 2))
            decay = national_decay
            if decay_spread > 0:
                shift = float(spread_rng.uniform(-decay_spread, decay_spread))
                decay = round(min(max(national_decay + shift, 0.0), 0.85), 3)
            a_mean = s * ms / (1.0 - decay)
            params = _calibrated_params(family, a_mean, ratio, roi * eff * s * ms, shape)
            tps.append(
                TouchpointTruth(
                    id=f"tp{i + 1:02d}",
                    stage=STAGES[i % len(STAGES)],
                    family=family,
                    params={k: float(f"{v:.6g}") for k, v in params.items()},
                    decay=decay,
                    mean_spend=round(float(s * ms), 2),
                    spend_cv=spend_cv,
                    flighting=0.0,
                    season_corr=0.2,
                    owner=OWNERS[i % len(OWNERS)],
                )
            )
        specs.append(
            WorldSpec(
                touchpoints=tuple(tps),
                n_weeks=n_weeks,
                baseline=round(float(s * media_per_size * 2.0), -2),
                noise_sd=round(min(0.25, noise_sd / float(np.sqrt(s))), 4),
                name=f"market {names[j]}",
                seed=int(seed * 1000 + j),
            )
        )
    return MarketWorld(names, tuple(float(x) for x in size), tuple(specs))


@dataclasses.dataclass(frozen=True)
class HighMarketWorld:
    """A multi-market world of the high-information generator (``high_market_world``): the same
    interface as ``MarketWorld`` where the benchmarks use it (``names``, ``sizes``,
    ``truth_models``, ``history``, ``journey``, ``mean_spends``, ``decays``)."""

    names: tuple[str, ...]
    sizes: tuple[float, ...]
    truths: dict  # market -> ResponseModel
    frame: pd.DataFrame  # every market's weeks, a ``market`` column
    journey_dict: dict
    spends: dict  # (market, touchpoint) -> mean weekly spend
    true_decays: dict  # (market, touchpoint) -> decay

    def truth_models(self):
        return dict(self.truths)

    def history(self) -> pd.DataFrame:
        return self.frame.copy()

    def journey(self) -> dict:
        return dict(self.journey_dict)

    def mean_spends(self) -> dict:
        return dict(self.spends)

    def decays(self) -> dict:
        return dict(self.true_decays)


def _mw_mean_spends(self: MarketWorld) -> dict:
    return {
        (m, t.id): float(t.mean_spend)
        for m, spec in zip(self.names, self.specs, strict=True)
        for t in spec.touchpoints
    }


def _mw_decays(self: MarketWorld) -> dict:
    return {
        (m, t.id): float(t.decay)
        for m, spec in zip(self.names, self.specs, strict=True)
        for t in spec.touchpoints
    }


MarketWorld.mean_spends = _mw_mean_spends  # type: ignore[attr-defined]
MarketWorld.decays = _mw_decays  # type: ignore[attr-defined]


def high_market_world(
    n_markets: int = 4,
    n_touchpoints: int = 6,
    seed: int = 0,
    *,
    noise_sd: float = 0.03,
    n_weeks: int = 156,
    sizes: tuple[float, float] = (0.3, 3.0),
    tau: float = 0.3,
    decay_spread: float = 0.0,
    decay_of: dict[str, float] | None = None,
) -> HighMarketWorld:
    """Markets of the high-information generator (``_high_worlds``): per touchpoint one family,
    decay U(0, 0.8), mean spend, ROI, shape, half-way ratio, spend CV and dark share for the
    nation; per market a size ``s`` (log-uniform in ``sizes``), its own spend series (log-normal
    with flighting, ``s`` times the national mean), its own effectiveness ``exp(tau z)``, its own
    multiplicative baseline (trend, seasonality, a price control; media 35-45% of the KPI) and
    noise ``noise_sd`` of its mean KPI. The decay is the nation's in every market unless
    ``decay_spread`` (then plus ``U(-decay_spread, decay_spread)``, kept in [0, 0.85]);
    ``decay_of``: touchpoint id -> its national decay instead of the drawn one (the other draws
    unchanged)."""
    import math

    from _high_worlds import PRICE_COLUMN, _calibrated, _spend

    from optimizer.response.model import ResponseModel
    from optimizer.simulate import seasonal_shape, spend_range
    from optimizer.vocabulary import DATE_COLUMN

    rng = np.random.default_rng([seed, n_touchpoints, 17_2026])
    national = []
    for _ in range(n_touchpoints):
        u = rng.random()
        family = "hill" if u < 0.5 else ("exponential" if u < 0.75 else "logistic")
        national.append(
            {
                "family": family,
                "decay": round(float(rng.uniform(0.0, 0.8)), 3),
                "mean": round(float(np.exp(rng.uniform(np.log(5_000), np.log(200_000)))), -2),
                "roi": float(np.exp(rng.uniform(np.log(0.3), np.log(5.0)))),
                "shape": round(float(rng.uniform(0.6, 1.0)), 3) if family == "hill" else 1.0,
                "ratio": float(rng.uniform(0.3, 2.0)),
                "cv": round(float(rng.uniform(0.6, 1.0)), 3),
                "dark": round(float(rng.uniform(0.0, 0.35)), 3),
            }
        )
    for i, nat in enumerate(national):
        nat["decay"] = (decay_of or {}).get(f"tp{i + 1:02d}", nat["decay"])
    size = np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]), n_markets))
    names = tuple(f"mk{j + 1:02d}" for j in range(n_markets))
    dates = pd.date_range("2023-01-02", periods=n_weeks, freq="7D")
    iso = [d.strftime("%Y-%m-%d") for d in dates]
    truths, parts, spends, decays = {}, [], {}, {}
    for j, (m, s) in enumerate(zip(names, size, strict=True)):
        mrng = np.random.default_rng([seed, n_touchpoints, 17_2026, j + 1])
        tps, spend = [], {}
        for i, nat in enumerate(national):
            tid = f"tp{i + 1:02d}"
            x = _spend(mrng, n_weeks, float(s) * nat["mean"], nat["cv"], nat["dark"])
            d = nat["decay"]
            if decay_spread > 0:
                d = round(
                    min(max(d + float(mrng.uniform(-decay_spread, decay_spread)), 0.0), 0.85), 3
                )
            eff = float(np.exp(tau * mrng.standard_normal() - tau**2 / 2))
            a_mean = float(x.mean()) / (1.0 - d)
            params = _calibrated(
                nat["family"],
                a_mean,
                nat["ratio"],
                nat["roi"] * eff * float(x.mean()),
                nat["shape"],
            )
            tps.append(
                TouchpointTruth(
                    id=tid,
                    stage=STAGES[i % len(STAGES)],
                    family=nat["family"],
                    params=params,
                    decay=d,
                    mean_spend=float(x.mean()),
                    spend_cv=nat["cv"],
                    flighting=nat["dark"],
                    owner=OWNERS[i % len(OWNERS)],
                )
            )
            spend[tid] = x
            spends[(m, tid)] = float(x.mean())
            decays[(m, tid)] = d
        media_total = sum(t.contribution(spend[t.id]) for t in tps)
        share = float(mrng.uniform(0.35, 0.45))
        trend = float(mrng.uniform(-0.02, 0.08))
        amp = float(mrng.uniform(0.1, 0.3))
        peak = int(mrng.integers(1, 366))
        price_coef = float(mrng.uniform(-1.5, -0.3))
        e = mrng.normal(0.0, 0.03 * math.sqrt(1.0 - 0.8**2), n_weeks)
        p = np.empty(n_weeks)
        level = mrng.normal(0.0, 0.03)
        for t in range(n_weeks):
            level = 0.8 * level + e[t] if t > 0 else level
            p[t] = level
        price = np.round(1.0 + p, 4)
        weeks = np.arange(n_weeks, dtype=float)
        shape_t = (
            (1.0 + trend * weeks / 52.18)
            * (1.0 + amp * seasonal_shape(dates, peak))
            * (1.0 + price_coef * (price - 1.0))
        )
        b0 = float(media_total.sum()) * (1.0 - share) / share / float(shape_t.sum())
        noiseless = b0 * shape_t + media_total
        kpi = np.round(
            noiseless + noise_sd * float(noiseless.mean()) * mrng.standard_normal(n_weeks), 2
        )
        frame = pd.DataFrame({DATE_COLUMN: iso, **spend, "revenue": kpi, PRICE_COLUMN: price})
        frame.insert(1, "market", m)
        parts.append(frame)
        truths[m] = ResponseModel(
            kpi="revenue", touchpoints={t.id: t.response(spend_range(spend[t.id])) for t in tps}
        )
    journey = {
        "name": f"High-information markets {seed}",
        "kpi": "revenue",
        "controls": [PRICE_COLUMN],
        "touchpoints": [
            {
                "id": f"tp{i + 1:02d}",
                "stage": STAGES[i % len(STAGES)],
                "owner": OWNERS[i % len(OWNERS)],
            }
            for i in range(n_touchpoints)
        ],
    }
    return HighMarketWorld(
        names,
        tuple(float(x) for x in size),
        truths,
        pd.concat(parts, ignore_index=True),
        journey,
        spends,
        decays,
    )


#: The regimes the pooled fits are judged on (``benchmarks/markets.py``, section ``pool``):
#: ``base`` three years of weekly history, markets of sizes 0.2-3 whose effects spread 30%, low
#: noise; ``sparse`` two years, sizes 0.1-5, effects spread 60%, twice the noise; ``many`` (added
#: to check changes tuned on the first two) 12 markets, two and a half years, sizes 0.1-2 (most
#: markets small), effects spread 15%, noise between the two. ``n_markets`` (default 8) is the
#: number of markets of the regime's worlds.
REGIMES: dict[str, dict] = {
    "base": {"tau": 0.3, "n_weeks": 156, "noise_sd": 0.05, "sizes": (0.2, 3.0)},
    "sparse": {"tau": 0.6, "n_weeks": 104, "noise_sd": 0.10, "sizes": (0.1, 5.0)},
    "many": {"tau": 0.15, "n_weeks": 130, "noise_sd": 0.08, "sizes": (0.1, 2.0), "n_markets": 12},
}


NATIONAL_YAML = """\
# national.yaml: the worked example of docs/planning-cycle.md (section 8)
name: FY27-Q1 national
model: models/markets.json
horizon_weeks: 13
budget: 30000000
touchpoints:
  tv: {max: 5000000}              # national rules: summed over the markets
national:
  tv: {north: 1.4, south: 1.0, east: 0.6, west: 0.3}   # bought once, delivered by these weights
markets:
  west: {min: 2500000}            # each market's own money and shares
  north: {max_share: 0.45}
  south:                          # rules scoped to one market
    touchpoints: {search: {max: 1500000}}
    stages: {loyalty: {min: 300000}}
owners:
  CRM team: {max: 4000000}
"""


def sample_markets(seed: int = 11, tau: float = 0.3) -> MarketWorld:
    """The sample company (Northwind Outfitters) in four regions of sizes 1.4, 1.0, 0.6 and 0.3:
    the sample's curves scaled to each region, each touchpoint's effect spread ``tau`` across
    regions (the worked example of docs/planning-cycle.md)."""
    from optimizer.simulate import sample_company

    base = sample_company()
    rng = np.random.default_rng([seed, 16])
    names = ("north", "south", "east", "west")
    sizes = (1.4, 1.0, 0.6, 0.3)
    specs = []
    for j, s in enumerate(sizes):
        tps = []
        for t in base.touchpoints:
            eff = float(np.exp(tau * rng.standard_normal() - tau**2 / 2))
            p = dict(t.params)
            p["beta"] = p["beta"] * s * eff
            name, power = {"hill": ("half_saturation", 1), "exponential": ("scale", 1)}.get(
                t.family, ("lam", -1)
            )
            p[name] = p[name] * s**power
            tps.append(
                dataclasses.replace(
                    t,
                    params={k: float(f"{v:.6g}") for k, v in p.items()},
                    mean_spend=t.mean_spend * s,
                )
            )
        specs.append(
            dataclasses.replace(
                base,
                touchpoints=tuple(tps),
                baseline=round(base.baseline * s, -2),
                noise_sd=round(min(0.25, base.noise_sd / float(np.sqrt(s))), 4),
                name=f"Northwind {names[j]}",
                seed=seed * 1000 + j,
            )
        )
    return MarketWorld(names, sizes, tuple(specs))


if __name__ == "__main__":
    import argparse

    import yaml

    ap = argparse.ArgumentParser(
        description="Write a multi-market history (history.csv with a market column), its journey "
        "and the true curves (truth/markets.json) into a folder."
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("--sample", action="store_true", help="the sample company in four regions")
    ap.add_argument("--markets", type=int, default=5)
    ap.add_argument("--touchpoints", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    w = sample_markets() if a.sample else market_world(a.markets, a.touchpoints, a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    w.history().to_csv(a.out / "history.csv", index=False)
    (a.out / "journey.yaml").write_text(yaml.safe_dump(w.journey(), sort_keys=False))
    w.write_truth(a.out / "truth")
    if a.sample:  # the national scenario of docs/planning-cycle.md and the README's tour
        (a.out / "national.yaml").write_text(NATIONAL_YAML)
    print(f"wrote {a.out}/history.csv, journey.yaml and truth/ ({len(w.names)} markets)")
