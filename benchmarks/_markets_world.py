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
) -> MarketWorld:
    """A world of ``n_markets`` markets (see the module docstring) of sizes log-uniform in
    ``sizes``; a market's noise is ``noise_sd / sqrt(size)`` of its mean KPI (capped at 25%):
    small markets are noisier."""
    rng = np.random.default_rng([seed, 16])
    national = []
    for _ in range(n_touchpoints):
        family = str(rng.choice(families))
        decay = round(float(rng.uniform(0.0, 0.6)), 3)
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
        for i, (family, decay, ms, roi, shape, ratio) in enumerate(national):
            eff = float(np.exp(tau * rng.standard_normal() - tau**2 / 2))
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
                    spend_cv=0.5,
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
