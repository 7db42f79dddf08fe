"""Random allocation worlds for the benchmarks, with their own (independent) curve math.

A ``World`` is a set of line items, each with a saturation curve, a geometric adstock and a
journey stage, plus a budget and optional stage / group rules. It turns itself into the two
objects the engine takes (a ``ResponseModel`` and a ``Scenario``), and evaluates its curves with
numpy code written here from the model-file contract (ARCHITECTURE.md, contract 3), not with
``optimizer.response.curves``: the benchmarks judge the engine's plans on curves it did not write.

Horizon response of line item ``i`` for a total spend ``S`` over ``H`` weeks of steady spend::

    F_i(S) = H * c_i(k_i * S / H)          k_i = 1 / (1 - decay_i)   (geometric steady state)
    F_i'(S) = k_i * c_i'(k_i * S / H)

with ``c_i`` one of hill ``beta a^s / (a^s + K^s)``, exponential ``beta (1 - exp(-a / K))`` or
logistic ``beta tanh(lam a / 2)``. Every random draw comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from optimizer.response.model import Adstock, ResponseModel, Saturation, TouchpointResponse
from optimizer.scenario import Scenario, scenario_from_dict
from optimizer.vocabulary import STAGES

HILL, EXPONENTIAL, LOGISTIC = 0, 1, 2
FAMILY_NAMES = ("hill", "exponential", "logistic")
HORIZON_WEEKS = 13


@dataclass(frozen=True)
class Rule:
    """A stage or group rule on total spend (money) and on its share of the plan's total spend."""

    min: float | None = None
    max: float | None = None
    min_share: float | None = None
    max_share: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {
            k: float(v)
            for k, v in (
                ("min", self.min),
                ("max", self.max),
                ("min_share", self.min_share),
                ("max_share", self.max_share),
            )
            if v is not None
        }


@dataclass(frozen=True)
class World:
    """Line items (arrays, one entry per item), a budget and stage / group rules."""

    family: np.ndarray  # HILL | EXPONENTIAL | LOGISTIC
    beta: np.ndarray  # weekly KPI at saturation
    k: np.ndarray  # hill half_saturation, exponential scale, 1 / logistic lam (adstocked spend)
    shape: np.ndarray  # hill shape (1.0 for the other families; unused there)
    decay: np.ndarray  # geometric adstock decay
    stage: np.ndarray  # index into STAGES
    budget: float
    weeks: int = HORIZON_WEEKS
    stage_rules: dict[str, Rule] = field(default_factory=dict)
    groups: dict[str, tuple[np.ndarray, Rule]] = field(default_factory=dict)  # members, rule

    # --- curves ------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.beta)

    @property
    def steady(self) -> np.ndarray:
        return 1.0 / (1.0 - self.decay)

    def value(self, s: np.ndarray) -> np.ndarray:
        """Horizon KPI of each line item at total spend ``s[i]``."""
        a = self.steady * np.maximum(np.asarray(s, float), 0.0) / self.weeks
        out = np.empty(self.n)
        h, e, g = (self.family == HILL), (self.family == EXPONENTIAL), (self.family == LOGISTIC)
        r = (a[h] / self.k[h]) ** self.shape[h]
        out[h] = self.beta[h] * r / (1.0 + r)
        out[e] = self.beta[e] * -np.expm1(-a[e] / self.k[e])
        out[g] = self.beta[g] * np.tanh(0.5 * a[g] / self.k[g])
        return self.weeks * out

    def slope(self, s: np.ndarray) -> np.ndarray:
        """d value / d spend of each line item at ``s[i]`` (``inf`` at 0 for hill shape < 1)."""
        a = self.steady * np.maximum(np.asarray(s, float), 0.0) / self.weeks
        out = np.empty(self.n)
        h, e, g = (self.family == HILL), (self.family == EXPONENTIAL), (self.family == LOGISTIC)
        kh, sh = self.k[h], self.shape[h]
        with np.errstate(divide="ignore", invalid="ignore"):
            # beta s a^(s-1) K^s / (a^s + K^s)^2, written to stay finite for large a
            u = a[h] / kh
            d = self.beta[h] * sh * u ** (sh - 1.0) / (kh * (1.0 + u**sh) ** 2)
        at0 = np.where(sh < 1, np.inf, np.where(sh == 1, self.beta[h] / kh, 0.0))
        out[h] = np.where(a[h] > 0, d, at0)
        out[e] = self.beta[e] / self.k[e] * np.exp(-a[e] / self.k[e])
        t = np.tanh(0.5 * a[g] / self.k[g])
        out[g] = self.beta[g] / (2.0 * self.k[g]) * (1.0 - t * t)
        return self.steady * out

    def total(self, s: np.ndarray) -> float:
        return float(self.value(s).sum())

    @property
    def concave(self) -> np.ndarray:
        return (self.family != HILL) | (self.shape <= 1.0)

    @property
    def inflection(self) -> np.ndarray:
        """Total spend where an S-curve's slope peaks (0 for concave curves)."""
        s = np.where(self.concave, 2.0, self.shape)
        a = self.k * ((s - 1.0) / (s + 1.0)) ** (1.0 / s)
        return np.where(self.concave, 0.0, a * self.weeks / self.steady)

    def stage_members(self, stage: str) -> np.ndarray:
        return np.flatnonzero(self.stage == STAGES.index(stage))

    def take(self, idx: np.ndarray) -> World:
        """The line items ``idx`` alone (same budget and horizon, no rules)."""
        return World(
            self.family[idx],
            self.beta[idx],
            self.k[idx],
            self.shape[idx],
            self.decay[idx],
            self.stage[idx],
            self.budget,
            self.weeks,
        )

    # --- the engine's inputs ------------------------------------------------------------------
    def ids(self) -> list[str]:
        width = len(str(self.n - 1))
        return [f"li{i:0{width}d}" for i in range(self.n)]

    def model(self) -> ResponseModel:
        tps = {}
        for i, tid in enumerate(self.ids()):
            fam = int(self.family[i])
            beta, k = float(self.beta[i]), float(self.k[i])
            if fam == HILL:
                params = {"beta": beta, "half_saturation": k, "shape": float(self.shape[i])}
            elif fam == EXPONENTIAL:
                params = {"beta": beta, "scale": k}
            else:
                params = {"beta": beta, "lam": 1.0 / k}
            tps[tid] = TouchpointResponse(
                tid,
                STAGES[int(self.stage[i])],
                Saturation(FAMILY_NAMES[fam], params),
                Adstock(float(self.decay[i])),
            )
        return ResponseModel(kpi="revenue", touchpoints=tps)

    def scenario(self, name: str) -> Scenario:
        ids = self.ids()
        data: dict[str, Any] = {
            "name": name,
            "model": "benchmark",
            "horizon_weeks": self.weeks,
            "budget": float(self.budget),
        }
        if self.stage_rules:
            data["stages"] = {st: r.as_dict() for st, r in self.stage_rules.items()}
        if self.groups:
            data["groups"] = {
                g: {"members": [ids[i] for i in m], **r.as_dict()}
                for g, (m, r) in self.groups.items()
            }
        return scenario_from_dict(data)

    # --- feasibility of a plan ----------------------------------------------------------------
    def violation(self, x: np.ndarray) -> float:
        """Largest violation (money) of the budget, stage and group rules by spend ``x``."""
        x = np.asarray(x, float)
        tot = float(x.sum())
        worst = max(0.0, tot - self.budget, float(-x.min(initial=0.0)))
        rules = [(self.stage_members(st), r) for st, r in self.stage_rules.items()]
        rules += list(self.groups.values())
        for members, r in rules:
            t = float(x[members].sum())
            for lim, over in (
                (r.max, t - (r.max or 0.0)),
                (r.min, (r.min or 0.0) - t),
                (r.max_share, t - (r.max_share or 0.0) * tot),
                (r.min_share, (r.min_share or 0.0) * tot - t),
            ):
                if lim is not None:
                    worst = max(worst, over)
        return worst


def _stages_for(n: int, rng: np.random.Generator) -> np.ndarray:
    """Every stage gets line items (round robin for the first seven), the rest at random."""
    base = np.arange(min(n, len(STAGES)))
    rest = rng.integers(0, len(STAGES), size=max(0, n - len(STAGES)))
    return rng.permutation(np.concatenate([base, rest]))


def concave_world(n: int, seed: int) -> World:
    """``n`` concave line items over the seven stages and a budget near their reference spend.

    Hill (shape 0.5–1.0) half of the time, exponential and logistic a quarter each; adstock
    decay 0–0.8; weekly reference spend log-normal around 5,000; saturation 0.5–2× the adstocked
    reference spend; KPI at saturation log-normal around 3× the reference spend. No stage rules:
    add them with ``with_stage_caps``.
    """
    rng = np.random.default_rng(seed)
    family = rng.choice([HILL, HILL, EXPONENTIAL, LOGISTIC], size=n)
    decay = rng.uniform(0.0, 0.8, n)
    ref = rng.lognormal(np.log(5000.0), 0.8, n)  # weekly reference spend
    k = ref / (1.0 - decay) * rng.uniform(0.5, 2.0, n)
    k = np.where(family == LOGISTIC, k / 1.1, k)  # tanh(x/2) is half way at x ≈ 1.1
    beta = ref * rng.lognormal(np.log(3.0), 0.5, n)
    shape = np.where(family == HILL, rng.uniform(0.5, 1.0, n), 1.0)
    budget = float(round(HORIZON_WEEKS * ref.sum() * rng.uniform(0.8, 1.2), -2))
    return World(family, beta, k, shape, decay, _stages_for(n, rng), budget)


def s_curve_world(n: int, seed: int) -> World:
    """``n`` line items (no stage rules), 30–60% of them hill S-curves of shape 1.5–3.

    The concave ones are exponential, logistic or hill of shape 1 (finite slope at zero, so a
    grid over spend has a finite error bound), and the budget is tight (0.3–0.8× the reference
    spend), so leaving an S-curve unfunded is often right.
    """
    rng = np.random.default_rng(seed)
    n_s = max(1, int(round(n * rng.uniform(0.3, 0.6))))
    is_s = rng.permutation(np.arange(n) < n_s)
    family = np.where(is_s, HILL, rng.choice([HILL, EXPONENTIAL, LOGISTIC], size=n))
    shape = np.where(is_s, rng.uniform(1.5, 3.0, n), 1.0)
    decay = rng.uniform(0.0, 0.8, n)
    ref = rng.lognormal(np.log(5000.0), 0.8, n)
    k = ref / (1.0 - decay) * rng.uniform(0.5, 2.0, n)
    k = np.where(family == LOGISTIC, k / 1.1, k)
    beta = ref * rng.lognormal(np.log(3.0), 0.5, n)
    budget = float(round(HORIZON_WEEKS * ref.sum() * rng.uniform(0.3, 0.8), -2))
    return World(family, beta, k, shape, decay, _stages_for(n, rng), budget)


def with_stage_caps(
    world: World, optimum: np.ndarray, seed: int, n_caps: int | None = None
) -> World:
    """Cap 2–3 stages at 55–85% of their total in ``optimum`` (the budget-only optimum), so that
    every cap binds."""
    rng = np.random.default_rng(seed)
    totals = np.bincount(world.stage, weights=optimum, minlength=len(STAGES))
    funded = np.flatnonzero(totals > 0)
    n_caps = n_caps if n_caps is not None else int(rng.integers(2, 4))
    chosen = rng.choice(funded, size=min(n_caps, len(funded)), replace=False)
    rules = {
        STAGES[s]: Rule(max=float(round(totals[s] * rng.uniform(0.55, 0.85), -2)))
        for s in sorted(chosen)
    }
    return replace(world, stage_rules=rules)


def with_eight_rules(world: World, optimum: np.ndarray, seed: int) -> World:
    """Budget + 3 stage caps + 2 stage floors + 2 group rules (8 constraints in all), all set
    against ``optimum`` (the budget-only optimum) so that they bind there."""
    rng = np.random.default_rng(seed)
    totals = np.bincount(world.stage, weights=optimum, minlength=len(STAGES))
    order = rng.permutation(len(STAGES))
    caps, floors = order[:3], order[3:5]
    rules = {
        STAGES[s]: Rule(max=float(round(totals[s] * rng.uniform(0.6, 0.85), -2))) for s in caps
    }
    rules.update(
        {STAGES[s]: Rule(min=float(round(totals[s] * rng.uniform(1.1, 1.3), -2))) for s in floors}
    )
    rules = dict(sorted(rules.items(), key=lambda kv: STAGES.index(kv[0])))
    perm = rng.permutation(world.n)
    a = np.sort(perm[: world.n // 5])  # a "digital" group across stages: share cap
    b = np.sort(perm[world.n // 5 : world.n // 5 + world.n // 10])  # a "brand" group: money floor
    tot = float(optimum.sum())
    groups = {
        "digital": (a, Rule(max_share=round(float(optimum[a].sum()) / tot * 0.9, 4))),
        "brand": (b, Rule(min=float(round(float(optimum[b].sum()) * 1.1, -2)))),
    }
    return replace(world, stage_rules=rules, groups=groups)
