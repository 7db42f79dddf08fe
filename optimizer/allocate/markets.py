"""Scenario + a markets index → an allocation problem over touchpoint × market (contract 8).

The allocation stays separable over line items, so the engine carries it unchanged: a line item is
a touchpoint bought in one market, on that market's curve, or a *national buy* (a touchpoint bought
once and delivered in every market by a fixed split ``w_m``: one decision ``x`` whose response is
``Σ_m F_m(w_m x)``, a sum of concave curves and so one concave curve). Every rule is a linear row
over member sets:

* the budget, and touchpoint, stage, group, owner and ratio rules, on national totals (a
  touchpoint's spend summed over its markets);
* ``markets.M`` money and shares: market M's spend (a national buy counts ``w_M x``) against money,
  or against a share of the national total;
* ``markets.M.touchpoints / stages / groups``: the same rules on market M's spend alone (a stage's
  or group's share is of market M's total).

Each line item's own bounds (a cap that holds it, a floor, a lock) are read off the rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from optimizer.allocate.breakpoints import HorizonCurve
from optimizer.allocate.caps import pad_cap
from optimizer.allocate.problem import (
    AllocationProblem,
    Item,
    LinearConstraint,
    money,
    safe_name,
    saturation_spend,
)
from optimizer.errors import ScenarioError
from optimizer.formatting import did_you_mean
from optimizer.response.markets import MarketModel
from optimizer.scenario import Scenario, check_against_markets, check_against_model


def _tokens(names: list[str]) -> dict[str, str]:
    """A unique ``[A-Za-z0-9_]`` token per market, for constraint names."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for m in names:
        t = safe_name(m)
        base, k = t, 2
        while t in used:
            t, k = f"{base}_{k}", k + 1
        used.add(t)
        out[m] = t
    return out


def national_split(
    scenario: Scenario, model: MarketModel, tid: str
) -> dict[str, float]:  # pragma: no branch
    """Each market's share of a national buy's spend (sums to 1, market order)."""
    spec = scenario.national[tid]
    raw = model.key(spec) if isinstance(spec, str) else {m: spec.get(m, 0.0) for m in model.names}
    total = sum(raw.values())
    return {m: raw[m] / total for m in model.names}


def make_market_problem(
    scenario: Scenario,
    model: MarketModel,
    stages: tuple[str, ...] | None = None,
    extra_models: Mapping[str, object] | None = None,
) -> AllocationProblem:
    """The allocation problem of ``scenario`` over ``model``'s markets (see the module docstring)."""
    tps = model.touchpoints
    names = model.names
    stage_of = {k: v.stage for k, v in tps.items()}
    owner_of = {k: v.owner for k, v in tps.items()}
    if extra_models:
        raise ScenarioError(
            "with a markets index, other KPIs' curves come from the index (each market's "
            "'models'), not from 'models:'",
            path=scenario.source,
            field="models",
        )
    kpi_models: dict[str, Mapping[str, object]] = {model.kpi: model.markets, **model.kpi_models}
    for k in (*scenario.kpi_floors, *scenario.kpi_values):
        if k not in kpi_models:
            raise ScenarioError(
                f"unknown KPI '{k}': the markets index is for '{model.kpi}' and lists no models "
                f"of '{k}'{did_you_mean(k, list(kpi_models))}",
                path=scenario.source,
                field="kpi_floors" if k in scenario.kpi_floors else "kpi_values",
            )
    check_against_model(scenario, stage_of, stages, owners_of=owner_of)
    check_against_markets(scenario, names, stage_of, stages, model.keys)
    tok = _tokens(names)

    H = float(scenario.horizon_weeks)
    obj = scenario.objective
    kpi_weight = 1.0
    spend_weight = 0.0
    if obj == "max_net":
        kpi_weight = float(scenario.value_per_kpi or 1.0)
        spend_weight = 1.0 + float(scenario.hurdle_rate)
    elif obj == "min_spend":
        spend_weight = 1.0
    if stages:
        stage_order = tuple(stages)
    else:
        from optimizer.vocabulary import STAGES

        used = list(dict.fromkeys(stage_of.values()))
        stage_order = tuple(
            sorted(
                used, key=lambda s: (STAGES.index(s) if s in STAGES else len(STAGES), used.index(s))
            )
        )

    # ---- the line items: touchpoint × market, or one national buy -------------------------------
    layout: list[tuple[str, str | None, dict[str, float]]] = []  # (touchpoint, market, shares)
    for tid in tps:
        if tid in scenario.national:
            layout.append((tid, None, national_split(scenario, model, tid)))
        else:
            layout.extend((tid, m, {m: 1.0}) for m in names)
    n = len(layout)
    by_tp: dict[str, list[int]] = {}
    for i, (tid, _m, _s) in enumerate(layout):
        by_tp.setdefault(tid, []).append(i)

    def national(members: set[str]) -> dict[int, float]:
        return {i: 1.0 for i, (t, _m, _s) in enumerate(layout) if t in members}

    def in_market(m: str, members: set[str] | None = None) -> dict[int, float]:
        return {
            i: s[m]
            for i, (t, _mm, s) in enumerate(layout)
            if s.get(m, 0.0) > 0 and (members is None or t in members)
        }

    cons: list[LinearConstraint] = []
    every = {i: 1.0 for i in range(n)}
    budget = scenario.budget
    if budget is not None:
        cons.append(
            LinearConstraint(
                "budget",
                "budget",
                "",
                "==" if budget.is_exact else "<=",
                budget.amount,
                every,
                f"the budget ({money(budget.amount)})",
            )
        )
    mif: dict[int, float] = {}
    blocks: dict[int, float] = {}

    def tp_rules(tid: str, rule, coefs: dict[int, float], name: str, where: str, field: str):
        """A touchpoint's min / max / lock on ``coefs``; ``min_if_funded`` and ``block`` on its one
        line item."""
        for attr, kind, sense, word in (
            ("lock", "tp_lock", "==", "lock"),
            ("min", "tp_min", ">=", "minimum"),
            ("max", "tp_max", "<=", "maximum"),
        ):
            v = getattr(rule, attr)
            if v is None:
                continue
            cons.append(
                LinearConstraint(
                    f"{kind}__{name}",
                    kind,
                    tid if where == "" else f"{tid}@{where}",
                    sense,
                    float(v),
                    coefs,
                    f"the {tid} {word}{f' in {where}' if where else ''} ({money(float(v))})",
                )
            )
        for attr in ("min_if_funded", "block"):
            v = getattr(rule, attr)
            if not v:
                continue
            ones = [i for i, a in coefs.items() if a == 1.0]
            if len(coefs) != 1 or len(ones) != 1:
                raise ScenarioError(
                    f"'{attr}' applies to one line item, but with markets '{tid}' is bought in "
                    f"{len(coefs)} markets: give it per market under "
                    f"'markets.<market>.touchpoints.{tid}', or make '{tid}' a national buy",
                    path=scenario.source,
                    field=f"{field}.{attr}",
                )
            if attr == "block":
                blocks[ones[0]] = float(v)
            elif rule.lock is None:
                mif[ones[0]] = float(v)
        if rule.keep_previous is not None:
            if where:
                raise ScenarioError(
                    "'keep_previous' applies to national totals (with 'previous'), not within a "
                    "market",
                    path=scenario.source,
                    field=f"{field}.keep_previous",
                )
            p = (scenario.previous or {}).get(tid, 0.0) * rule.keep_previous
            if p > 0:
                of = "last cycle's spend"
                if rule.keep_previous != 1.0:
                    of = f"{rule.keep_previous:.0%} of {of}"
                cons.append(
                    LinearConstraint(
                        f"keep_previous__{name}",
                        "keep_previous",
                        tid,
                        ">=",
                        p,
                        coefs,
                        f"the {tid} floor at {of} ({money(p)})",
                    )
                )
        if rule.change_pct is not None or rule.change_money is not None:
            if where:
                raise ScenarioError(
                    "change limits apply to national totals (with 'previous'), not within a market",
                    path=scenario.source,
                    field=f"{field}.change_pct"
                    if rule.change_pct is not None
                    else f"{field}.change_money",
                )

    def share_rules(
        kind: str,
        subject: str,
        nm: str,
        coefs: dict[int, float],
        base: dict[int, float],
        rule,
        what: str,
    ) -> None:
        """Money floors and caps on ``coefs``, and shares of ``base``'s spend; ``nm`` names the rows."""
        for attr, sense, word in (("min", ">=", "floor"), ("max", "<=", "cap")):
            v = getattr(rule, attr)
            if v is None:
                continue
            cons.append(
                LinearConstraint(
                    f"{kind}_{attr}__{nm}",
                    f"{kind}_{attr}",
                    subject,
                    sense,
                    float(v),
                    coefs,
                    f"the {what} {word} ({money(float(v))})",
                )
            )
        whole = "total spend" if base is every else "its market's spend"
        for attr, sense, word in (("min_share", ">=", "floor"), ("max_share", "<=", "cap")):
            share = getattr(rule, attr)
            if share is None:
                continue
            c = {i: -share * a for i, a in base.items()}
            for i, a in coefs.items():
                c[i] = c.get(i, 0.0) + a
            cons.append(
                LinearConstraint(
                    f"{kind}_{attr}__{nm}",
                    f"{kind}_{attr}",
                    subject,
                    sense,
                    0.0,
                    c,
                    f"the {what} share {word} ({share:.0%} of {whole})",
                    value=share,
                )
            )

    # ---- national rules ------------------------------------------------------------------------
    for tid, rule in scenario.touchpoints.items():
        tp_rules(tid, rule, national({tid}), safe_name(tid), "", f"touchpoints.{tid}")
    for st, rule in scenario.stages.items():
        members = {t for t, s in stage_of.items() if s == st}
        share_rules("stage", st, safe_name(st), national(members), every, rule, f"{st} stage")
    for g, rule in scenario.groups.items():
        share_rules(
            "group", g, safe_name(g), national(set(rule.members)), every, rule, f"'{g}' group"
        )
    for o, rule in scenario.owners.items():
        members = {t for t, w in owner_of.items() if w == o}
        share_rules("owner", o, safe_name(o), national(members), every, rule, f"{o} budget")

    def members_of(name: str) -> set[str]:
        if name in tps:
            return {name}
        if name in scenario.groups:
            return set(scenario.groups[name].members)
        return {t for t, s in stage_of.items() if s == name}

    for r, rule in scenario.ratios.items():
        num, den = national(members_of(rule.numerator)), national(members_of(rule.denominator))
        for bound, sense, tag in ((rule.min, ">=", "min"), (rule.max, "<=", "max")):
            if bound is None:
                continue
            c = dict(num)
            for i, a in den.items():
                c[i] = c.get(i, 0.0) - bound * a
            word = "at least" if sense == ">=" else "at most"
            cons.append(
                LinearConstraint(
                    f"ratio_{tag}__{safe_name(r)}",
                    f"ratio_{tag}",
                    r,
                    sense,
                    0.0,
                    c,
                    f"the ratio rule '{r}' ({rule.numerator} {word} {bound:g} × {rule.denominator})",
                    value=bound,
                )
            )
    default = scenario.change_limit
    for tid, p in (scenario.previous or {}).items():
        rule = scenario.touchpoints.get(tid)
        pct = rule.change_pct if rule is not None and rule.change_pct is not None else None
        mon = rule.change_money if rule is not None and rule.change_money is not None else None
        pct = pct if pct is not None else (default.pct if default is not None else None)
        mon = mon if mon is not None else (default.money if default is not None else None)
        ups, downs, why = [], [], []
        if pct is not None:
            ups.append(p * (1 + pct))
            downs.append(p * (1 - pct))
            why.append(f"±{pct:.0%}")
        if mon is not None:
            ups.append(p + mon)
            downs.append(p - mon)
            why.append(f"±{money(mon)}")
        if not ups:
            continue
        text = f"{' and '.join(why)} on {money(p)} last cycle"
        up, down = min(ups), max(0.0, max(downs))
        coefs = national({tid})
        nm = safe_name(tid)
        cons.append(
            LinearConstraint(
                f"change_up__{nm}",
                "change_up",
                tid,
                "<=",
                up,
                coefs,
                f"the {tid} change limit ({text})",
            )
        )
        if down > 0:
            cons.append(
                LinearConstraint(
                    f"change_down__{nm}",
                    "change_down",
                    tid,
                    ">=",
                    down,
                    coefs,
                    f"the {tid} change limit ({text})",
                )
            )

    # ---- each market's own rules ---------------------------------------------------------------
    for m, rule in scenario.markets.items():
        t = tok[m]
        mine = in_market(m)
        share_rules("market", m, t, mine, every, rule, f"{m} market")
        for tid, tr in rule.touchpoints.items():
            tp_rules(
                tid,
                tr,
                in_market(m, {tid}),
                f"{safe_name(tid)}__in__{t}",
                m,
                f"markets.{m}.touchpoints.{tid}",
            )
        for st, sr in rule.stages.items():
            members = {x for x, s in stage_of.items() if s == st}
            share_rules(
                "stage",
                f"{st}@{m}",
                f"{safe_name(st)}__in__{t}",
                in_market(m, members),
                mine,
                sr,
                f"{st} stage in {m}",
            )
        for g, gr in rule.groups.items():
            share_rules(
                "group",
                f"{g}@{m}",
                f"{safe_name(g)}__in__{t}",
                in_market(m, set(gr.members)),
                mine,
                gr,
                f"'{g}' group in {m}",
            )

    if obj == "min_spend":
        target = float(scenario.kpi_target or 0.0)
        cons.append(
            LinearConstraint(
                "kpi_target",
                "kpi_target",
                model.kpi,
                ">=",
                target,
                every,
                f"the {model.kpi} target ({money(target)})",
                on_kpi=True,
                kpi=model.kpi,
            )
        )
    for k, floor in scenario.kpi_floors.items():
        cons.append(
            LinearConstraint(
                f"kpi_floor__{safe_name(k)}",
                "kpi_floor",
                k,
                ">=",
                float(floor),
                every,
                f"the {k} floor ({money(float(floor))})",
                on_kpi=True,
                kpi=k,
            )
        )
    names_seen: set[str] = set()
    for c in cons:
        if c.name in names_seen:  # pragma: no cover - tokens are unique
            raise ScenarioError(f"two rules share the name {c.name!r}", path=scenario.source)
        names_seen.add(c.name)

    # ---- bounds read off the rows: a cap on a set of non-negative terms caps each of them ------
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    for c in cons:
        if c.on_kpi or c.rhs < 0 or any(a < 0 for a in c.coefs.values()):
            continue
        if c.sense in ("<=", "=="):
            for i, a in c.coefs.items():
                if a > 0:
                    hi[i] = min(hi[i], c.rhs / a)
        if c.sense in (">=", "==") and len(c.coefs) == 1:
            ((i, a),) = c.coefs.items()
            if a > 0:
                lo[i] = max(lo[i], c.rhs / a)

    values = dict(scenario.kpi_values)
    composite = obj in ("max_value", "max_net") and bool(values)
    items = []
    for i, (tid, m, shares) in enumerate(layout):
        parts_by_kpi = {
            k: [
                (per[mk].touchpoints[tid], w)
                for mk, w in shares.items()
                if tid in per[mk].touchpoints
            ]
            for k, per in kpi_models.items()
        }

        def curve_of(terms, scale: float = 1.0) -> HorizonCurve:
            if len(terms) == 1 and terms[0][1] == 1.0:
                return HorizonCurve(terms[0][0], H, scale)
            return HorizonCurve(
                terms[0][0],
                H,
                scale,
                tuple((scale, r) for r, _ in terms),
                tuple(w for _, w in terms),
            )

        kcurves = {k: curve_of(terms) for k, terms in parts_by_kpi.items() if terms}
        main_terms = parts_by_kpi[model.kpi]
        if composite:
            parts = [
                (float(v), r, w) for k, v in values.items() if v for r, w in parts_by_kpi.get(k, [])
            ] or [(0.0, main_terms[0][0], 1.0)]
            curve = HorizonCurve(
                main_terms[0][0],
                H,
                1.0,
                tuple((v, r) for v, r, _ in parts),
                tuple(w for _, _, w in parts),
            )
        else:
            curve = curve_of(main_terms, kpi_weight if obj == "max_net" else 1.0)
        top = hi[i]
        if budget is not None:
            top = min(top, budget.amount)
        if not math.isfinite(top):
            top = saturation_spend(curve)
        if obj == "max_net":
            top = min(top, max(saturation_spend(curve), lo[i]))
        top = max(top, lo[i])
        top = pad_cap(top)
        items.append(
            Item(
                i,
                tid,
                stage_of[tid],
                curve,
                float(lo[i]),
                float(top),
                mif.get(i),
                blocks.get(i),
                kcurves,
                market=m,
                owner=owner_of[tid],
                split=shares if m is None else None,
            )
        )
    return AllocationProblem(
        scenario,
        tuple(items),
        tuple(cons),
        "min" if obj == "min_spend" else "max",
        model.kpi,
        kpi_weight,
        spend_weight,
        stage_order,
        markets=tuple(names),
    )
