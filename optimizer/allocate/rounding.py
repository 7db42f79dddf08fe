"""The plan to the cent: rounding that keeps the total and holds every spend rule the exact plan
holds (issue 14, item 6). ``round_to_rules`` is what ``allocate`` writes on a plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from optimizer.allocate.bank import CurveBank
from optimizer.allocate.plan import ConstraintResult, Status, round_cents
from optimizer.allocate.problem import AllocationProblem, LinearConstraint
from optimizer.formatting import CENT


def round_to_rules(problem: AllocationProblem, x: np.ndarray) -> np.ndarray:
    """The plan to the cent, holding every spend rule the exact plan holds (issue 14, item 6).

    Largest-remainder rounding (``round_cents``) keeps the total; it can still put a binding floor
    a cent short (a stage floor of 5,000,000 planned at 4,999,999.99). When it does, a small MILP
    (one integer per line item: its floor in cents moved by -1..+2) holds every spend rule in
    cents and moves the plan the least; a rule set no rounding can hold exactly is left to the
    nearest cents. The same MILP holds the rules on a KPI (``KpiFloors``) that the nearest cents
    leave short.
    """
    x = np.maximum(np.asarray(x, float), 0.0)
    spend = round_cents(x)
    rows = [c for c in problem.constraints if not c.on_kpi and c.coefs]
    floors = KpiFloors.of(problem)
    before = (worst_row(rows, spend), floors.short(spend))
    if before == (0.0, 0.0):
        return spend
    fixed = _repair_cents(problem, rows, x, before[0], floors)
    if fixed is not None and (worst_row(rows, fixed), floors.short(fixed)) < before:
        return fixed
    return spend


class KpiFloors:
    """The rules on a KPI that rounding can break (a ``min_spend`` target, ``kpi_floors``: rows
    ``Σ a·KPI ≥ b``): the cents the rounding takes off a line item lose its KPI, and a target met
    exactly by the exact plan ends a fraction of a unit short (900,000 planned at 899,999.9987)."""

    def __init__(self, rows: list[LinearConstraint], banks: dict[str, CurveBank], kpi: str) -> None:
        self.rows, self.banks, self.kpi = rows, banks, kpi

    @classmethod
    def of(cls, problem: AllocationProblem) -> KpiFloors:
        from optimizer.allocate.polish import kpi_bank

        rows = [c for c in problem.constraints if c.on_kpi and c.coefs and c.sense != "<="]
        keys = sorted({c.kpi or problem.kpi for c in rows})
        return cls(rows, {k: kpi_bank(problem, k) for k in keys}, problem.kpi)

    def lhs(self, c: LinearConstraint, v: np.ndarray) -> float:
        kpi = self.bank(c).value(v)
        return float(sum(a * kpi[i] for i, a in c.coefs.items()))

    def bank(self, c: LinearConstraint) -> CurveBank:
        return self.banks[c.kpi or self.kpi]

    def add_rows(self, prob: Any, x: np.ndarray, cents: list[Any]) -> None:
        """Each rule as a row of the rounding MILP over the plan in ``cents``, on each line
        item's KPI linearised at the exact plan ``x`` (a cent moves a slope by nothing a float
        sees), with a margin of 1e-9 of the rule for the linearisation's own error (a concave
        curve lies under its tangent by about F''·(a cent)²/2)."""
        for c in self.rows:
            bank = self.bank(c)
            kpi, slope = bank.value(x), bank.slope(x)
            # a curve with an infinite slope at zero (hill shape < 1) at a plan of 0: the slope
            # of its first cent
            slope = np.where(np.isfinite(slope), slope, (bank.value(x + CENT) - kpi) / CENT)
            prob += sum(
                a * (kpi[i] + slope[i] * (cents[i] / 100.0 - x[i])) for i, a in c.coefs.items()
            ) >= c.rhs + 1e-9 * max(abs(c.rhs), 1.0)

    def short(self, v: np.ndarray) -> float:
        """The largest shortfall of a KPI rule at spend ``v``, relative to its right-hand side
        (0 when all hold)."""
        worst = 0.0
        for c in self.rows:
            gap = c.rhs - self.lhs(c, v)
            if gap > 1e-12 * max(abs(c.rhs), 1.0):
                worst = max(worst, gap / max(abs(c.rhs), 1.0))
        return worst


def _row_slack(c: Any, v: np.ndarray) -> float:
    """How far a rule is from breaking at spend ``v`` (negative: broken), in money."""
    lhs = float(sum(a * v[i] for i, a in c.coefs.items()))
    if c.sense == "<=":
        return c.rhs - lhs
    if c.sense == ">=":
        return lhs - c.rhs
    return -abs(lhs - c.rhs)


def worst_row(rows: Sequence[Any], v: np.ndarray) -> float:
    """The largest breach of a spend rule beyond float noise (0 when all hold): ``rows`` have
    ``coefs`` (index into ``v``), ``sense`` and ``rhs``: an undated rule (``LinearConstraint``)
    or a phased one (``PhasedRow``, its keys (line item, period) into the n × P plan)."""
    worst = 0.0
    for c in rows:
        size = abs(c.rhs) + float(sum(abs(a * v[i]) for i, a in c.coefs.items()))
        s = _row_slack(c, v)
        if s < -(1e-6 + 1e-15 * size):  # float noise (a budget of 1e12: 0.002), never a cent
            worst = max(worst, -s)
    return worst


def _repair_cents(
    problem: AllocationProblem,
    rows: list[LinearConstraint],
    x: np.ndarray,
    breach: float = 0.0,
    floors: KpiFloors | None = None,
) -> np.ndarray | None:
    """``breach``: the largest breach of a rule by the nearest cents, in money. The exact plan
    itself can breach a rule by the solver's feasibility tolerance, which at a budget of 1e12 is
    dollars (fuzz seed 4514: 6.68 over a budget of 999,999,999,999.99): each line item may then
    move by as many cents as the breach, so that the repair can take it back. ``floors``: the KPI
    rules, held on each line item's KPI linearised at the exact plan (a cent moves a curve's
    slope by nothing a float sees)."""
    frac = np.clip(x * 100.0 - np.floor(x * 100.0 + 1e-6), 0.0, 1.0)
    fixed = [it.index for it in problem.items if it.block is not None and frac[it.index] <= 1e-6]
    funded = {
        it.index: it.min_if_funded for it in problem.items if it.min_if_funded and x[it.index] > 0
    }
    return cents_milp(
        x,
        [(c.coefs, c.sense, c.rhs) for c in rows],
        breach=breach,
        fixed=fixed,
        min_funded=funded,
        extra=None if floors is None else floors.add_rows,
        keep_total=True,
    )


def cents_milp(
    x: np.ndarray,
    rows: Sequence[tuple[Mapping[int, float], str, float]],
    *,
    breach: float = 0.0,
    fixed: Sequence[int] = (),
    min_funded: Mapping[int, float] | None = None,
    extra: Callable[[Any, np.ndarray, list[Any]], None] | None = None,
    keep_total: bool = False,
) -> np.ndarray | None:
    """The plan ``x`` (money, one entry per decision) to the cent, holding every row
    ``Σ coefs[i]·x[i] sense rhs`` in cents and moving the plan the least (Σ |cents - 100·x|):
    a small MILP, one integer per decision, its floor in cents moved by -1..+2 (by as many more
    cents as ``breach``, the nearest cents' largest breach in money). So a decision moves by a
    cent or two, never into a rule that has no room (a cap that binds, a dark period at
    ``max: 0``). None when no such rounding exists (or the MILP fails): the caller keeps the
    nearest cents and names the rules they break. ``fixed``: decisions that keep their cents;
    ``min_funded``: decisions funded in ``x`` that stay at least at their minimum; ``extra``:
    adds more rows (``prob``, ``x``, the decisions in cents); ``keep_total``: a cent the total
    moves from the nearest cents' total (largest remainder) costs as much as a cent a decision
    moves, so a plan that can keep its total (a budget spent to the cent) does. The undated plan
    (``round_to_rules``) and the phased one (``phased_plan``) both round by it.

    Where no rounding holds every row exactly (a national buy's share of a market against a
    market rule on a knife edge: market shares summing to exactly 100%, each market's spend then
    a fixed fraction of the total, which the buy's irrational share of a cent never meets), the
    rounding that breaks them least (its largest breach, in cents) is returned instead; the
    caller keeps it only where it breaks less than the nearest cents."""
    out = _cents_milp(x, rows, breach, fixed, min_funded, extra, keep_total, soft=False)
    if out is None and rows:
        out = _cents_milp(x, rows, breach, fixed, min_funded, extra, keep_total, soft=True)
    return out


#: branch-and-bound nodes the cents MILP may take (a deterministic limit, unlike a time)
MAX_NODES = 500


def _cents_milp(
    x: np.ndarray,
    rows: Sequence[tuple[Mapping[int, float], str, float]],
    breach: float,
    fixed: Sequence[int],
    min_funded: Mapping[int, float] | None,
    extra: Callable[[Any, np.ndarray, list[Any]], None] | None,
    keep_total: bool,
    *,
    soft: bool,
) -> np.ndarray | None:
    """``cents_milp``'s MILP; ``soft``: every row may break by up to 0.49 of a cent (under half a
    cent: no break, as the plan's report reads it), the least moves again.

    Deterministic: HiGHS stops after ``MAX_NODES`` branch-and-bound nodes, not a time, and only a
    rounding proven optimal is used (a 5 s time limit, whose incumbent PuLP reports "Optimal",
    wrote different cents for the same inputs on a loaded machine: review S18 R1 D1)."""
    import math

    import pulp

    from optimizer.allocate.solve import make_solver

    cents = x * 100.0
    base = np.floor(cents + 1e-6)
    frac = np.clip(cents - base, 0.0, 1.0)
    k = math.ceil(breach * 100.0) if math.isfinite(breach) else 0
    keep = set(fixed)
    prob = pulp.LpProblem("round", pulp.LpMinimize)
    # each decision moves from its floor (in cents) by -1..+2: a share rule may need one decision
    # a cent below its own floor so that another can reach its floor within the budget
    b, dev = [], []
    for i in range(len(x)):
        lo_move = 0 if i in keep or base[i] < 1 else -max(1, min(k, int(base[i])))
        hi_move = 0 if i in keep else 2 + k
        v = prob.add_variable(f"b{i}", lo_move, hi_move, cat=pulp.LpInteger)
        t = prob.add_variable(f"t{i}", 0)
        prob += t >= v - frac[i]
        prob += t >= frac[i] - v
        b.append(v)
        dev.append(t)
    for i, least in (min_funded or {}).items():  # funded: stays at least its minimum
        prob += (base[i] + b[i]) >= round(least * 100.0, 6) - 1e-6
    if keep_total:
        total = prob.add_variable("total", 0)
        moved = pulp.lpSum(b) - (round(float(cents.sum())) - float(base.sum()))
        prob += total >= moved
        prob += total >= -moved
        dev.append(total)
    prob += pulp.lpSum(dev)
    for coefs, sense, rhs_money in rows:
        lhs = pulp.lpSum(a * (base[i] + b[i]) for i, a in coefs.items())
        rhs = rhs_money * 100.0
        # in cents: float noise, never a cent; or (soft) under half a cent
        eps = (0.49 if soft else 1e-4) + 1e-15 * abs(rhs)
        if sense in ("<=", "=="):
            prob += lhs <= rhs + eps
        if sense in (">=", "=="):
            prob += lhs >= rhs - eps
    if extra is not None:
        extra(prob, x, [base[i] + v for i, v in enumerate(b)])
    try:
        # the package's HiGHS (one thread, its banner kept off stdout): a default pulp.HiGHS
        # starts HiGHS' scheduler on all threads, and every later one-thread solve in the
        # process then fails (test_phased's MILPs came out infeasible after a phased plan)
        solver = make_solver("highs", mip=True, time_limit=120)  # a guard; the nodes decide
        solver.optionsDict["mip_max_nodes"] = MAX_NODES
        prob.solve(solver)
    except Exception:  # noqa: BLE001 - rounding falls back to the nearest cents
        return None
    if prob.sol_status != pulp.LpSolutionOptimal:  # proven, not an incumbent at a limit
        return None
    out = np.array([base[i] + round(v.varValue or 0.0) for i, v in enumerate(b)])
    return np.maximum(out, 0.0) / 100.0


#: how a plan's message begins the rules its cents break (``broken_in_cents``)
BROKEN_IN_CENTS = "rounded to cents the plan breaks"


def said_in_cents(
    results: Sequence[ConstraintResult], on_kpi: Sequence[bool], status: Status, message: str
) -> tuple[Status, str]:
    """A plan's status and message with what its cents break said (``broken_in_cents``): such a
    plan is ``not_certified``, never ``optimal`` ("optimal" means certified, and a plan that
    breaks a rule is not the certified optimum of its rules; the CLI exits 4, the plan written
    with the rule it breaks named); a plan that holds every rule keeps both. ``on_kpi``: for
    each of ``results``, whether its rule is on KPI (else on money). The undated plan and the
    phased one (its rules by period) both say it so."""
    broken = broken_in_cents(results, on_kpi)
    if not broken:
        return status, message
    if status == Status.OPTIMAL:
        status = Status.NOT_CERTIFIED
    return status, "; ".join(m for m in (message, broken) if m)


def broken_in_cents(results: Sequence[ConstraintResult], on_kpi: Sequence[bool]) -> str:
    """What the plan in cents breaks, said in its message ('' when every rule holds): the exact
    plan holds every rule, and the cents repair holds them in cents where any rounding can;
    where none was found (its MILP failed, or no rounding holds them exactly) the nearest cents
    are written, and a rule they leave short must not pass unsaid under "optimal"."""
    words = []
    for kpi, r in zip(on_kpi, results, strict=True):
        # half a cent of spend; a KPI rule beyond float noise (1e-9 of its right-hand side)
        tol = 1e-9 * max(abs(r.rhs), 1.0) if kpi else 0.005
        if r.slack < -tol:
            unit = "of KPI" if kpi else "of spend"
            words.append(f"'{r.label or r.name}' by {-r.slack:,.4g} {unit}")
    if not words:
        return ""
    return (
        f"{BROKEN_IN_CENTS} "
        + ", ".join(words)
        + " (no rounding to cents that holds every rule was found)"
    )
