"""AllocationProblem + breakpoints → a PuLP model, with our own name → constraint map. Build only.

Each line item's spend is the sum of its piece variables ``s_ij ∈ [0, width_ij]`` and its KPI is
``F(0) + Σ slope_ij s_ij``. For a concave curve the slopes fall, so a maximising LP fills the
pieces in order and the model is exact with no binaries. An S-curve's rising pieces need
binaries that force the order (incremental formulation: piece j+1 may start only once piece j
is full); "zero or at least X" needs one binary per line item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pulp

from optimizer.allocate.breakpoints import Pieces
from optimizer.allocate.breakpoints import pieces as Pieces_of
from optimizer.allocate.problem import AllocationProblem
from optimizer.scenario.rules import ITEM_RULE_ROLE, item_rule_amounts

_SENSE = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


@dataclass
class BuiltModel:
    """The PuLP problem plus the maps back to our objects."""

    prob: pulp.LpProblem
    problem: AllocationProblem
    pieces: tuple[Pieces, ...]
    segment_vars: tuple[tuple[pulp.LpVariable, ...], ...]
    constraints: dict[str, pulp.LpConstraint]  # our name → PuLP constraint
    binaries: tuple[pulp.LpVariable, ...]
    fixed_binaries: bool = False
    elastic: dict[str, pulp.LpVariable] | None = None

    @property
    def is_mip(self) -> bool:
        return bool(self.binaries) and not self.fixed_binaries

    def spend_values(self) -> np.ndarray:
        return np.array([sum((v.varValue or 0.0) for v in vs) for vs in self.segment_vars])


def build_model(
    problem: AllocationProblem,
    pieces: Sequence[Pieces],
    *,
    include: set[str] | None = None,
    elastic: bool = False,
    rigid: set[str] | None = None,
    fix_binaries: Mapping[str, float] | None = None,
    objective: bool = True,
    tiebreak: bool = True,
    kpi_pieces: Mapping[tuple[str, int], Pieces] | None = None,
    relax_blocks: bool = False,
) -> BuiltModel:
    """Build the PuLP model.

    Parameters
    ----------
    include : names of the rules to keep (all when None): rows, and the integer rules
        (``problem.item_rules``: zero-or-at-least, blocks); used by the infeasibility diagnosis.
    elastic : give every constraint a non-negative violation variable and minimise total violation
        (scaled by each constraint's size), instead of the real objective.
    rigid : with ``elastic``, the constraints that get no violation variable (they must hold).
    fix_binaries : binary values to fix (name → 0/1), turning a MILP into the LP at its solution so
        that duals exist.
    objective : when False, a feasibility problem (objective 0).
    tiebreak : charge unspent-by-default dollars 1e-9 of the best slope (see below); off for a
        model whose optimum must bound the true one (the lifted MILP).
    kpi_pieces : pieces of a KPI's curve to use in rows on that KPI, by (KPI, line item); by
        default that curve interpolated at the line item's own breakpoints.
    relax_blocks : a line item's number of blocks is continuous (not fixed, not integer): the
        relaxation whose duals price the rules for the Lagrangian bound of a plan in blocks.
    """
    sense = (
        pulp.LpMaximize
        if (problem.sense == "max" and not elastic and objective)
        else pulp.LpMinimize
    )
    prob = pulp.LpProblem("budgetopt", sense)
    seg_vars: list[tuple[pulp.LpVariable, ...]] = []
    binaries: list[pulp.LpVariable] = []
    spend_terms: list[list[tuple[pulp.LpVariable, float]]] = []
    kpi_terms: list[list[tuple[pulp.LpVariable, float]]] = []
    kpi_const = np.zeros(len(problem.items))
    extra_rows: list[tuple[pulp.LpAffineExpression, str, float, str]] = []
    fix = fix_binaries or {}
    # with ``include`` (the diagnosis), each line item's integer rules are those included: the
    # amount its kept rules of each role set, or none when every one of them is left out
    kept_amounts: dict[str, dict[int, float]] = {"funded": {}, "block": {}}
    ruled: set[tuple[int, str]] = set()
    if include is not None:
        for r in problem.item_rules:
            role = ITEM_RULE_ROLE.get(r.kind)
            if role is not None:
                ruled.add((r.item, role))
        kept_amounts = item_rule_amounts([r for r in problem.item_rules if r.name in include])

    def integer_rule(it_index: int, role: str, own: float | None) -> float | None:
        if include is None or (it_index, role) not in ruled:
            return own
        return kept_amounts[role].get(it_index)

    def binary(name: str) -> pulp.LpVariable:
        if name in fix:
            v = prob.add_variable(name, fix[name], fix[name])
        else:
            v = prob.add_variable(name, 0, 1, pulp.LpBinary)
        binaries.append(v)
        return v

    for it, pc in zip(problem.items, pieces, strict=True):
        i = it.index
        vs = tuple(prob.add_variable(f"s_{i}_{j}", 0.0, float(w)) for j, w in enumerate(pc.widths))
        seg_vars.append(vs)
        spend_terms.append([(v, 1.0) for v in vs])
        kpi_terms.append([(v, float(sl)) for v, sl in zip(vs, pc.slopes, strict=True)])
        kpi_const[i] = pc.values[0]
        k = 0 if it.curve.concave else pc.convex_pieces
        if k > 0 and len(vs) > 1:
            # incremental formulation: y_j = 1 ⇔ pieces 0..j-1 are full; gates pieces j.. (tail by y_k)
            ys = [binary(f"y_{i}_{j}") for j in range(1, min(k, len(vs) - 1) + 1)]
            for j, y in enumerate(ys, start=1):
                extra_rows.append(
                    (
                        pulp.LpAffineExpression([(vs[j - 1], 1.0), (y, -float(pc.widths[j - 1]))]),
                        ">=",
                        0.0,
                        f"sfill_{i}_{j}",
                    )
                )
                gated = vs[j:] if j == len(ys) else (vs[j],)
                for jj, v in enumerate(gated, start=j):
                    extra_rows.append(
                        (
                            pulp.LpAffineExpression([(v, 1.0), (y, -float(pc.widths[jj]))]),
                            "<=",
                            0.0,
                            f"sgate_{i}_{jj}",
                        )
                    )
        block = integer_rule(i, "block", it.block)
        if block:
            total = sum(float(w) for w in pc.widths)
            nmax = int(np.floor(total / block + 1e-9))
            name = f"n_{i}"
            if relax_blocks:
                n = prob.add_variable(name, 0, nmax)
            elif name in fix:
                n = prob.add_variable(name, fix[name], fix[name])
            else:
                n = prob.add_variable(name, 0, nmax, pulp.LpInteger)
            if not relax_blocks:
                binaries.append(n)
            extra_rows.append(
                (
                    pulp.LpAffineExpression([*spend_terms[-1], (n, -float(block))]),
                    "==",
                    0.0,
                    f"blocks_{i}",
                )
            )
        funded = integer_rule(i, "funded", it.min_if_funded)
        if funded:
            u = binary(f"u_{i}")
            total = sum(float(w) for w in pc.widths)
            extra_rows.append(
                (pulp.LpAffineExpression([*spend_terms[-1], (u, -total)]), "<=", 0.0, f"funded_{i}")
            )
            m = min(funded, total)
            extra_rows.append(
                (
                    pulp.LpAffineExpression([*spend_terms[-1], (u, -m)]),
                    ">=",
                    0.0,
                    f"funded_min_{i}",
                )
            )

    cons: dict[str, pulp.LpConstraint] = {}
    elastic_vars: dict[str, pulp.LpVariable] = {}
    violation_terms: list[tuple[pulp.LpVariable, float]] = []
    for c in problem.constraints:
        if include is not None and c.name not in include:
            continue
        terms: list[tuple[pulp.LpVariable, float]] = []
        rhs = c.rhs
        for i, a in c.coefs.items():
            if a == 0.0:
                continue
            if c.on_kpi:
                # the row's KPI on the same pieces: slopes of that KPI's (unscaled) curve
                kc = problem.items[i].kpis.get(c.kpi or problem.kpi)
                if kc is None:
                    continue
                kp = (kpi_pieces or {}).get((c.kpi or problem.kpi, i)) or Pieces_of(
                    kc, pieces[i].points
                )
                terms.extend(
                    (v, a * float(sl)) for v, sl in zip(seg_vars[i], kp.slopes, strict=True)
                )
                rhs -= a * float(kp.values[0])
            else:
                terms.extend((v, a * coef) for v, coef in spend_terms[i])
        expr = pulp.LpAffineExpression(terms)
        if elastic and c.name not in (rigid or ()):
            scale = 1.0 / max(abs(c.rhs), 1.0)
            if c.sense in ("<=", "=="):
                e = prob.add_variable(f"el_minus__{c.name}", 0.0)
                expr = expr + pulp.LpAffineExpression([(e, -1.0)])
                violation_terms.append((e, scale))
                elastic_vars[c.name + "__minus"] = e
            if c.sense in (">=", "=="):
                e = prob.add_variable(f"el_plus__{c.name}", 0.0)
                expr = expr + pulp.LpAffineExpression([(e, 1.0)])
                violation_terms.append((e, scale))
                elastic_vars[c.name + "__plus"] = e
        con = pulp.LpConstraint(expr, _SENSE[c.sense], name=c.name, rhs=rhs)
        prob.addConstraint(con, c.name)
        cons[c.name] = con
    for expr, sense, rhs, name in extra_rows:
        prob.addConstraint(pulp.LpConstraint(expr, _SENSE[sense], name=name, rhs=rhs), name)

    if elastic:
        # each violation weighs 1 / |rhs| (a relative violation), the whole scaled so that the
        # largest weight is 1: a lone rule on a large amount (a KPI target of 1e8) would otherwise
        # cost 1e-8 per unit, a reduced cost below the solver's tolerance, and the least violation
        # would be found at no spend at all
        top = max((w for _, w in violation_terms), default=1.0)
        prob.setObjective(pulp.LpAffineExpression([(e, w / top) for e, w in violation_terms]))
    elif not objective:
        prob.setObjective(pulp.LpAffineExpression([]))
    else:
        obj_terms: list[tuple[pulp.LpVariable, float]] = []
        # zero-based tie-break: a dollar that buys (next to) nothing is not spent, rather than
        # parked wherever the solver happens to leave it; 1e-9 of the best return moves no plan
        top = max((float(np.max(p.slopes)) for p in pieces if len(p.slopes)), default=0.0)
        eps = (
            1e-9 * top if problem.sense == "max" and not problem.spend_weight and tiebreak else 0.0
        )
        # one coefficient per piece: its KPI slope (when maximising) less the cost of its spend
        per_dollar = -eps + (
            problem.spend_weight if problem.sense == "min" else -problem.spend_weight
        )
        for it in problem.items:
            pc = pieces[it.index]
            coef = (pc.slopes if problem.sense == "max" else np.zeros(len(pc.slopes))) + per_dollar
            obj_terms.extend(zip(seg_vars[it.index], coef.tolist(), strict=True))
        const = float(kpi_const.sum()) if problem.sense == "max" else 0.0
        prob.setObjective(pulp.LpAffineExpression(obj_terms, constant=const))
    return BuiltModel(
        prob,
        problem,
        tuple(pieces),
        tuple(seg_vars),
        cons,
        tuple(binaries),
        fixed_binaries=bool(fix),
        elastic=elastic_vars if elastic else None,
    )
