"""Property-based tests over random constraint sets (hypothesis).

Truth is computed independently of the engine: the rules are re-stated here as linear rows over
spend and checked with scipy's ``linprog`` (feasibility), never through PuLP or our build code.
Properties: every plan returned satisfies every rule (to a cent, plus 1e-7 relative); a rule set is
reported infeasible exactly when it is; an infeasibility diagnosis names a set of rules that is
infeasible on its own.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from optimizer.allocate import allocate
from optimizer.response.model import Adstock, ResponseModel, Saturation, TouchpointResponse
from optimizer.scenario import scenario_from_dict

IDS = ["a", "b", "c", "d"]
STAGE = {"a": "awareness", "b": "awareness", "c": "consideration", "d": "purchase"}
TOL_ABS = 0.05


def world(seed: int) -> ResponseModel:
    rng = np.random.default_rng(seed)
    tps = {}
    for t in IDS:
        fam = ["hill", "exponential", "logistic"][int(rng.integers(3))]
        beta = float(rng.uniform(5e3, 5e4))
        if fam == "hill":
            curve = Saturation(
                "hill",
                {
                    "beta": beta,
                    "half_saturation": float(rng.uniform(2e3, 3e4)),
                    "shape": float(rng.uniform(0.5, 1.0)),
                },
            )
        elif fam == "exponential":
            curve = Saturation("exponential", {"beta": beta, "scale": float(rng.uniform(2e3, 3e4))})
        else:
            curve = Saturation("logistic", {"beta": beta, "lam": float(rng.uniform(2e-5, 5e-4))})
        tps[t] = TouchpointResponse(t, STAGE[t], curve, Adstock(float(rng.uniform(0, 0.6))))
    return ResponseModel(kpi="kpi", touchpoints=tps)


money = st.floats(min_value=0, max_value=400_000, allow_nan=False).map(lambda v: round(v, -2))
share = st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def scenarios(draw):
    sc: dict = {"name": "h", "model": "m", "horizon_weeks": draw(st.integers(1, 26))}
    budget = draw(money)
    sc["budget"] = {"exactly": budget} if draw(st.booleans()) and draw(st.booleans()) else budget
    tps = {}
    for t in IDS:
        kind = draw(st.sampled_from(["none", "none", "min", "max", "both", "lock"]))
        if kind == "min":
            tps[t] = {"min": draw(money) / 4}
        elif kind == "max":
            tps[t] = {"max": draw(money) / 2}
        elif kind == "both":
            lo, hi = sorted([draw(money) / 4, draw(money) / 2])
            tps[t] = {"min": lo, "max": hi}
        elif kind == "lock":
            tps[t] = {"lock": draw(money) / 4}
    if tps:
        sc["touchpoints"] = tps
    stages = {}
    for s in ("awareness", "consideration"):
        kind = draw(st.sampled_from(["none", "min", "max", "min_share", "max_share"]))
        if kind in ("min", "max"):
            stages[s] = {kind: draw(money) / 2}
        elif kind != "none":
            stages[s] = {kind: draw(share)}
    if stages:
        sc["stages"] = stages
    if draw(st.booleans()):
        sc["groups"] = {
            "g": {"members": ["b", "d"], draw(st.sampled_from(["max", "min"])): draw(money) / 2}
        }
    if draw(st.booleans()):
        sc["ratios"] = {
            "r": {
                "numerator": "a",
                "denominator": "consideration",
                draw(st.sampled_from(["min", "max"])): draw(
                    st.floats(0, 3).map(lambda v: round(v, 2))
                ),
            }
        }
    return sc


def rows(sc: dict):
    """The rules as (name, coefficients over IDS, sense, rhs), stated independently of the engine."""
    out = []
    n = len(IDS)
    b = sc["budget"]
    if isinstance(b, dict):
        out.append(("budget", np.ones(n), "==", b["exactly"]))
    else:
        out.append(("budget", np.ones(n), "<=", b))
    for t, r in sc.get("touchpoints", {}).items():
        e = np.eye(n)[IDS.index(t)]
        for k, sense in (("min", ">="), ("max", "<="), ("lock", "==")):
            if k in r:
                out.append((f"{k}:{t}", e, sense, r[k]))

    def members(name):
        if name in IDS:
            return [name]
        if name == "g":
            return ["b", "d"]
        return [t for t in IDS if STAGE[t] == name]

    groups = {f"stage:{s}": (members(s), r) for s, r in sc.get("stages", {}).items()}
    if "groups" in sc:
        groups["group:g"] = (["b", "d"], sc["groups"]["g"])
    for name, (mem, r) in groups.items():
        m = np.array([1.0 if t in mem else 0.0 for t in IDS])
        if "min" in r:
            out.append((f"{name}:min", m, ">=", r["min"]))
        if "max" in r:
            out.append((f"{name}:max", m, "<=", r["max"]))
        if "min_share" in r:
            out.append((f"{name}:min_share", m - r["min_share"], ">=", 0.0))
        if "max_share" in r:
            out.append((f"{name}:max_share", m - r["max_share"], "<=", 0.0))
    if "ratios" in sc:
        r = sc["ratios"]["r"]
        num = np.array([1.0 if t in members(r["numerator"]) else 0.0 for t in IDS])
        den = np.array([1.0 if t in members(r["denominator"]) else 0.0 for t in IDS])
        if "min" in r:
            out.append(("ratio:min", num - r["min"] * den, ">=", 0.0))
        if "max" in r:
            out.append(("ratio:max", num - r["max"] * den, "<=", 0.0))
    return out


def _scipy(rs, cost: np.ndarray):
    """scipy's LP over the rules ``rs`` (spend >= 0): the independent reference."""
    a_ub, b_ub, a_eq, b_eq = [], [], [], []
    for _, a, sense, rhs in rs:
        if sense == "<=":
            a_ub.append(a)
            b_ub.append(rhs)
        elif sense == ">=":
            a_ub.append(-a)
            b_ub.append(-rhs)
        else:
            a_eq.append(a)
            b_eq.append(rhs)
    return linprog(
        cost,
        A_ub=a_ub or None,
        b_ub=b_ub or None,
        A_eq=a_eq or None,
        b_eq=b_eq or None,
        bounds=[(0, None)] * len(IDS),
        method="highs",
    )


def feasible(rs) -> bool:
    return _scipy(rs, np.zeros(len(IDS))).status == 0


def spends_something(rs) -> bool:
    """Do the rules admit a plan that spends more than half a cent (the most spend, by scipy)?"""
    res = _scipy(rs, -np.ones(len(IDS)))
    return res.status == 3 or (res.status == 0 and -res.fun > 0.005)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios(), seed=st.integers(0, 20))
def test_plans_satisfy_every_rule_and_infeasible_is_never_optimal(sc, seed):
    plan = allocate(scenario_from_dict(sc), world(seed))
    rs = rows(sc)
    truth = feasible(rs)
    if plan.status in ("optimal", "not_certified"):  # either way, a plan that holds every rule
        x = np.array([plan.item(t).spend for t in IDS])
        assert (x >= 0).all()
        for name, a, sense, rhs in rs:
            lhs = float(a @ x)
            tol = TOL_ABS + 1e-7 * max(abs(rhs), float(np.abs(x).sum()))
            if sense == "<=":
                assert lhs <= rhs + tol, (name, lhs, rhs)
            elif sense == ">=":
                assert lhs >= rhs - tol, (name, lhs, rhs)
            else:
                assert abs(lhs - rhs) <= tol, (name, lhs, rhs)
        assert truth, "the engine found a plan for rules scipy says cannot hold"
    else:
        assert plan.status == "infeasible"
        # a positive budget whose rules admit only the empty plan is infeasible by design
        # (allocate.engine: "the rules hold only if nothing is spent, and the budget is positive")
        b = sc["budget"]
        amount = b["exactly"] if isinstance(b, dict) else b
        only_empty = truth and amount > 0.005 and not spends_something(rs)
        assert not truth or only_empty, f"feasible rules reported infeasible: {plan.message}"
        assert plan.conflicts, "an infeasible plan names its conflicting rules"
