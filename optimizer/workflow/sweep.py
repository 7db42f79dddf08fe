"""The budget frontier: optimise one scenario at many budgets.

Two ways to walk the frontier, with the same certificate at every point (``--tolerance`` on the
gap to the exact optimum and 0.1% on the marginal returns, see docs/allocation.md):

* the *naive* loop: ``allocate`` from scratch at each budget;
* the *warm* walk (the default): the problem is built once with ``make_problem`` and only the
  budget's right-hand side changes; each point starts from breakpoints placed where the previous
  points say the solution will be. At an optimum every funded line item spends where its marginal
  return equals the price the duals put on its dollars, so the breakpoints are the spends at which
  each line item's marginal return equals its predicted price × (1 ± δ) for a few small δ: the LP
  then lands within δ of the exact optimum, and one solve usually certifies the point. The prices
  are extrapolated (in logs) from the two previous points, then corrected by Newton's method so
  that the line items' best responses meet every binding rule at the new budget. The walk starts
  afresh every ``CHUNK`` budgets, so that stretches of the frontier can be walked in parallel (local
  processes with ``jobs`` > 1, or a Dask cluster through an ``executor``), and the plans are the
  same wherever they are walked.

A problem that needs binaries (S-curves, "zero or at least", blocks) is built once too, but each
of its points is refined by the allocator's own loop: its bound need not close (weak duality), so a
rough picture of an S-curve away from the predicted prices would go unnoticed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.allocate import Plan, allocate, make_problem, plan_problem, solve_problem
from optimizer.allocate.bank import CurveBank
from optimizer.allocate.breakpoints import _clean, bank_breakpoints, refine_around
from optimizer.allocate.caps import pad_cap, unpad_cap
from optimizer.allocate.certificate import kkt_residual, relative_gap
from optimizer.allocate.diagnose import RESOLVE
from optimizer.allocate.engine import (
    DEFAULT_KKT_TOLERANCE,
    DEFAULT_PIECES,
    DEFAULT_TOLERANCE,
    SolveOptions,
    initial_points,
    plan_without_lp,
)
from optimizer.allocate.kpi_floor import conflicting_floor
from optimizer.allocate.plan import Status, certified_status, clean_price
from optimizer.allocate.problem import AllocationProblem
from optimizer.defaults import DEFAULT_SWEEP_JOBS
from optimizer.errors import ScenarioError
from optimizer.formatting import HALF_CENT, money
from optimizer.progress import Progress
from optimizer.response.model import CurveSet, currency_of
from optimizer.scenario import Scenario, budget_grid
from optimizer.threads import one_blas_thread
from optimizer.workflow.economics import Economics, extrapolation, scenario_economics
from optimizer.workflow.executor import Executor, InProcess, LocalProcesses

#: relative offsets of the predicted price at which breakpoints are placed (both signs)
PRICE_OFFSETS = (0.0, 3e-4, 2e-3, 1e-2, 0.05)
#: pieces of the coarse, curvature-spaced background over each line item's whole range
COARSE_PIECES = 3
#: the warm walk starts afresh every this many budgets, so that stretches of the frontier can be
#: walked in parallel (``jobs``) with the same plans whatever the number of jobs
CHUNK = 25


@dataclass(frozen=True)
class Frontier:
    scenario: str
    plans: tuple[Plan, ...]
    #: where the marginal return falls to the hurdle and to 1, when the KPI is money
    economics: Economics | None = None
    #: per line item, the first budget of the sweep at which its curve is used beyond its data
    extrapolation: tuple[Mapping[str, Any], ...] = ()
    #: the scenario's own budget (for the chart), when it has one
    budget: float | None = None
    #: the money's currency (the model's ``currency``), for the table's and chart's labels
    currency: str | None = None

    @property
    def budgets(self) -> np.ndarray:
        return np.array([p.budget for p in self.plans], dtype=float)

    @staticmethod
    def marginal(p: Plan) -> float | None:
        """KPI per extra unit of budget at this point. At a zero budget the LP's dual is degenerate,
        so it is the best first-dollar return of any line item instead."""
        if not p.ok:
            return None
        if p.total_spend == 0 and p.line_items:
            return max(li.marginal_roi for li in p.line_items)
        return clean_price(p.budget_shadow_price)  # the solver's float noise is 0

    def points(self) -> list[dict[str, float | str | None]]:
        """Per budget: status, spend, KPI, marginal ROI and ROI; with a money KPI also the
        marginal return in money and the spend beyond the break-even budget (at the hurdle)."""
        eco = self.economics
        out = []
        for p in self.plans:
            m = self.marginal(p)
            d: dict[str, float | str | None] = {
                "budget": p.budget,
                "status": p.status,
                "total_spend": p.total_spend,
                "total_kpi": p.total_kpi if p.ok else None,
                "marginal_roi": m,
                "roi": p.roi if p.ok else None,
            }
            if eco is not None:
                d["marginal_return"] = None if m is None else m * eco.value_per_kpi
                be = eco.hurdle.budget
                d["spend_beyond"] = (
                    None
                    if not p.ok
                    else (0.0 if be is None else float(round(max(0.0, p.total_spend - be), 2)))
                )
            # why: the rules that conflict, as optimize names them; the warm walk says a KPI
            # floor's exact fix at the highest infeasible budget only (``shown_infeasible``)
            if p.status == "infeasible":
                d["message"] = p.message
            out.append(d)
        return out


def parse_budgets(spec: str) -> np.ndarray:
    """``START:STOP:N``: N evenly spaced budgets from START to STOP, both included."""
    try:
        return np.array(budget_grid(spec), dtype=float)
    except ValueError as e:
        raise ScenarioError(str(e), field="--budgets") from None


def sweep(
    scenario: Scenario,
    model: CurveSet,
    budgets: Sequence[float] | np.ndarray,
    *,
    warm: bool = True,
    progress: Progress | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
    jobs: int = DEFAULT_SWEEP_JOBS,
    executor: Executor | None = None,
    economics: bool = True,
    **options,
) -> Frontier:
    """Optimise ``scenario`` at each budget; the frontier of total KPI against budget, with (when
    ``economics``) the break-even points of ``optimizer.workflow.economics`` (a solve or two, here)
    and the first budget at which each line item's curve is used beyond its data.

    See ``_frontier`` for the parameters.
    """
    front = _frontier(
        scenario,
        model,
        budgets,
        warm=warm,
        progress=progress,
        extra_models=extra_models,
        jobs=jobs,
        executor=executor,
        **options,
    )
    front = dataclasses.replace(front, currency=currency_of(model))
    if not economics:
        return front
    solve_options = {k: v for k, v in options.items() if k in ("solver", "tolerance", "time_limit")}
    kpi = next((p.kpi for p in front.plans if p.kpi), getattr(model, "kpi", ""))
    eco = scenario_economics(scenario, model, kpi, extra_models=extra_models, **solve_options)
    first: dict[tuple[str, str | None], dict[str, Any]] = {}
    for p in front.plans:
        if not p.ok:
            continue
        for x in extrapolation(p, model):
            first.setdefault((x["id"], x.get("market")), {**x, "budget": p.budget})
    own = scenario.budget.amount if scenario.budget is not None else None
    return dataclasses.replace(
        front, economics=eco, extrapolation=tuple(first.values()), budget=own
    )


def _frontier(
    scenario: Scenario,
    model: CurveSet,
    budgets: Sequence[float] | np.ndarray,
    *,
    warm: bool = True,
    progress: Progress | None = None,
    extra_models: Mapping[str, CurveSet] | None = None,
    jobs: int = DEFAULT_SWEEP_JOBS,
    executor: Executor | None = None,
    **options,
) -> Frontier:
    """Optimise ``scenario`` at each budget; the frontier of total KPI against budget.

    Parameters
    ----------
    warm : walk the frontier warm (one problem, predicted breakpoints; see the module docstring)
        or, when False, call ``allocate`` from scratch at each budget (the naive loop).
    progress : called with (points done, points in all, the scenario's name) as points are done.
    extra_models : other KPIs' models (KPI floors and values), as ``allocate`` takes them.
    jobs : local processes for the walk when no ``executor`` is given.
    executor : where the stretches of ``CHUNK`` budgets (or, cold, the budgets) are walked
        (``optimizer.workflow.executor``: in-process, local processes, a Dask cluster). The walk
        restarts every ``CHUNK`` budgets wherever it runs, so the plans do not depend on it.
    options : ``allocate``'s options (``solver``, ``tolerance``, ``time_limit``, …).
    """
    if scenario.objective != "max_kpi":
        raise ScenarioError(
            "a budget sweep needs objective max_kpi", path=scenario.source, field="objective"
        )
    grid = [float(b) for b in budgets]
    if executor is None:
        with LocalProcesses(jobs) if jobs > 1 else InProcess() as ex:
            return _frontier(
                scenario,
                model,
                grid,
                warm=warm,
                progress=progress,
                extra_models=extra_models,
                executor=ex,
                **options,
            )
    extra = dict(extra_models or {})
    # a phased plan (contract 7) is not the warm walk's one-problem-per-touchpoint shape: each
    # budget is planned from scratch by ``allocate`` (which plans it period by period)
    if getattr(scenario, "is_phased", False):
        warm = False
    if not warm or not grid:
        cold = [(scenario, model, [b], {**options, "extra_models": extra}) for b in grid]
        step = None if progress is None else (lambda done, n, k: progress(done, n, scenario.name))
        cold_plans = [p for part in executor.map(_cold, cold, progress=step) for p in part]
        return Frontier(scenario.name, tuple(cold_plans))
    chunks = [grid[i : i + CHUNK] for i in range(0, len(grid), CHUNK)]
    tasks = [(scenario, model, c, {**options, "extra_models": extra_models}) for c in chunks]
    plans: list[Plan] = []
    if executor.in_process:  # point by point, with progress after each point
        with one_blas_thread():
            for task in tasks:
                done = len(plans)
                point = (
                    None
                    if progress is None
                    else (lambda k, n, label, d=done: progress(d + k, len(grid), label))
                )
                plans.extend(_walk(task, point))
    else:
        finished = [0]

        def chunk_done(done: int, total: int, k: int) -> None:
            finished[0] += len(chunks[k])
            if progress is not None:
                progress(finished[0], len(grid), scenario.name)

        for part in executor.map(_walk, tasks, progress=chunk_done):
            plans.extend(part)
    k = shown_infeasible(plans)
    if k is not None:  # the one infeasible point whose message is said, its fix searched for
        with one_blas_thread():
            plans[k] = _explain(tasks[k // CHUNK], grid[k], plans[k])
    return Frontier(scenario.name, tuple(plans))


def shown_infeasible(plans: Sequence[Plan]) -> int | None:
    """Which infeasible point's message the sweep's table says (the highest budget's: the
    closest to a plan, when the rules need a larger budget), or None when every point plans.
    The warm walk searches for the exact fix of a KPI floor at this point only."""
    bad = [k for k, p in enumerate(plans) if p.status == Status.INFEASIBLE]
    if not bad:
        return None
    return max(bad, key=lambda k: plans[k].budget or 0.0)


def _explain(
    task: tuple[Scenario, CurveSet, list[float], dict[str, Any]], b: float, plan: Plan
) -> Plan:
    """The plan of budget ``b`` (walked in ``task``'s stretch, infeasible there) as ``optimize``
    plans it, its message's fix searched for: the walk leaves that search (``floor_within_rules``,
    ~24 solves) out at its infeasible points (a sweep of 26 infeasible budgets under a revenue
    floor took 12.9 s with it at every point, 1.9 s without). ``plan`` as it is for a problem
    with binaries, whose points the walk plans with their diagnosis already."""
    scenario, model, budgets, options = task
    walk = _WarmWalk(scenario, model, budgets, **options)
    if walk.problem.needs_binaries:
        return plan
    return walk.explain(b)


def _cold(task: tuple[Scenario, CurveSet, list[float], dict[str, Any]]) -> list[Plan]:
    scenario, model, budgets, options = task
    return [allocate(scenario.with_budget(b), model, **options) for b in budgets]


def _walk(
    task: tuple[Scenario, CurveSet, list[float], dict[str, Any]], progress: Progress | None = None
) -> list[Plan]:
    scenario, model, budgets, options = task
    return _WarmWalk(scenario, model, budgets, **options).run(progress)


def with_budget(
    problem: AllocationProblem, amount: float, tops: np.ndarray | None = None
) -> AllocationProblem:
    """The same problem with another total budget: the budget row's right-hand side changes.

    ``tops`` are the line items' own caps before the budget (``make_problem``'s range without its
    margin); each line item's range is then cut at the new budget as ``make_problem`` would, so
    that the certificate's boxes stay tight.
    """
    amount = float(amount)
    cons = tuple(
        dataclasses.replace(c, rhs=amount, label=f"the budget ({money(amount, 'any')})")
        if c.name == "budget"
        else c
        for c in problem.constraints
    )
    items = problem.items
    if tops is not None:
        his = pad_cap(np.maximum(np.minimum(tops, amount), [it.lo for it in items]))
        items = tuple(
            dataclasses.replace(it, hi=float(h)) for it, h in zip(items, his, strict=True)
        )
    return dataclasses.replace(
        problem, scenario=problem.scenario.with_budget(amount), constraints=cons, items=items
    )


@dataclass(frozen=True)
class _Row:
    """A binding rule over several line items: ``coefs · spend = rhs``, with its shadow price."""

    name: str
    coefs: np.ndarray  # one coefficient per line item
    rhs: float
    dual: float


class _WarmWalk:
    """One problem, many budgets: breakpoints placed at the prices the previous points predict."""

    def __init__(
        self,
        scenario: Scenario,
        model: CurveSet,
        budgets: list[float],
        *,
        solver: str = "highs",
        tolerance: float = DEFAULT_TOLERANCE,
        time_limit: float | None = None,
        max_rounds: int = 6,
        kkt_tolerance: float = DEFAULT_KKT_TOLERANCE,
        n_pieces: int = DEFAULT_PIECES,
        diagnose: bool = True,
        stages: tuple[str, ...] | None = None,
        extra_models: Mapping[str, CurveSet] | None = None,
    ) -> None:
        self.budgets = budgets
        # built once, at the largest budget; each point only cuts the ranges at its own budget
        self.scenario_name = scenario.name
        self.problem = make_problem(
            scenario.with_budget(max(budgets)), model, stages, extra_models=dict(extra_models or {})
        )
        self.opts: SolveOptions = {
            "solver": solver,
            "tolerance": tolerance,
            "time_limit": time_limit,
            "kkt_tolerance": kkt_tolerance,
            "diagnose": diagnose,
        }
        self.tolerance, self.kkt_tolerance, self.max_rounds = tolerance, kkt_tolerance, max_rounds
        self.n_pieces = n_pieces
        items = self.problem.items
        self.n = len(items)
        self.lo = np.array([it.lo for it in items])
        self.tops = unpad_cap(np.array([it.hi for it in items]))
        self.bank = CurveBank.of([it.curve for it in items])
        offsets = np.array(PRICE_OFFSETS)
        self.factors = np.unique(np.concatenate([1.0 - offsets, 1.0 + offsets]))
        # one bank holding every line item once per price level, for one vectorised bisection
        self.tiled = CurveBank.of([it.curve for it in items] * len(self.factors))
        # a concave line item's optimum follows its price: a coarse background will do
        self.coarse = bank_breakpoints(
            self.bank, self.lo, np.array([it.hi for it in items]), np.full(self.n, COARSE_PIECES)
        )

    # --- best responses ---------------------------------------------------------------------
    def caps(self, budget: float) -> np.ndarray:
        """The most each line item can spend at this budget (its own caps, the budget)."""
        return np.maximum(np.minimum(self.tops, max(budget, 0.0)), self.lo)

    def best_response(self, prices: np.ndarray, cap: np.ndarray, levels: bool = True) -> np.ndarray:
        """The spend at which each line item's marginal return meets its price (× each price
        level when ``levels``; shape (levels, items), else (items,)).

        Bisection on the slope (the curves are concave), in log spend: spends span many orders of
        magnitude, and 34 halvings of a ratio of 1e12 leave a relative error below 1e-8.
        """
        k = len(self.factors) if levels else 1
        bank = self.tiled if levels else self.bank
        p = (self.factors[:, None] * prices[None, :]).ravel() if levels else prices
        top = np.tile(cap, k)
        bottom = np.tile(np.minimum(self.lo, cap), k)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            at_bottom = bank.slope(np.maximum(bottom, 1e-300)) <= p
            at_top = bank.slope(top) >= p
            la = np.log(np.maximum(np.maximum(bottom, top * 1e-12), 1e-300))
            lb = np.log(np.maximum(top, 1e-300))
            for _ in range(34):
                lm = 0.5 * (la + lb)
                right = bank.slope(np.exp(lm)) > p
                la = np.where(right, lm, la)
                lb = np.where(right, lb, lm)
        x = np.where(at_top, top, np.where(at_bottom, bottom, np.exp(0.5 * (la + lb))))
        return x.reshape(k, self.n) if levels else x

    def solve_prices(self, rows: list[_Row], cap: np.ndarray) -> np.ndarray | None:
        """Shadow prices at which the line items' best responses meet every binding rule.

        Newton's method on the rules' duals ``y``: each line item spends ``x_i(p_i)`` with
        ``p = Aᵀy`` and ``F_i'(x_i) = p_i``, so ``d x_i / d p_i = 1 / F_i''(x_i)`` and the
        Jacobian of ``A x − b`` is ``A diag(1 / F'') Aᵀ`` (line items at a bound do not move).
        Returns the prices per line item, or None when Newton does not meet the rules.
        """
        if not rows:
            return None
        A = np.array([r.coefs for r in rows])
        b = np.array([r.rhs for r in rows])
        y = np.array([r.dual for r in rows], float)
        scale = max(float(np.abs(b).max()), float(cap.sum()) * 1e-3, 1.0)

        def respond(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            x = self.best_response(A.T @ y, cap, levels=False)
            g = A @ x - b
            return x, g, float(np.abs(g).max()) / scale

        x, g, err = respond(y)
        for _ in range(20):
            if err < 1e-9:
                break
            h = np.maximum(1e-6 * x, 1e-3)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                curv = (self.bank.slope(x + h) - self.bank.slope(np.maximum(x - h, 1e-12))) / (
                    x + h - np.maximum(x - h, 1e-12)
                )
            inside = (x > np.minimum(self.lo, cap) + 1e-9) & (x < cap - 1e-9)
            d = np.where(
                inside & (curv < 0) & np.isfinite(curv), -1.0 / np.where(curv < 0, curv, -1.0), 0.0
            )
            J = (A * d) @ A.T
            step = np.linalg.lstsq(J, g, rcond=None)[0]
            t = 1.0
            while t > 1e-3:
                x_new, g_new, err_new = respond(y + t * step)
                if err_new < err:
                    y, x, g, err = y + t * step, x_new, g_new, err_new
                    break
                t *= 0.5
            else:
                break
        return A.T @ y if err < 1e-6 else None

    # --- breakpoints ------------------------------------------------------------------------
    def points(
        self,
        problem: AllocationProblem,
        prices: np.ndarray | None,
        centre: np.ndarray,
        rows: list[_Row],
        previous: list[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Breakpoints for one solve: a coarse background, plus the spends at the line items'
        prices × (1 ± δ); line items without a usable price are refined around ``centre`` (on top
        of their ``previous`` breakpoints, when given).

        The prices are those at which the best responses meet every binding rule, solved from
        ``rows`` (a corrector step: an LP's duals are only known to within a piece), or else
        ``prices`` as predicted.
        """
        budget = problem.scenario.budget
        assert budget is not None  # the walk builds its problems with_budget: they all have one
        b = float(budget.amount)
        cap = self.caps(b)
        solved = self.solve_prices(rows, cap)
        if solved is not None:
            prices = solved
        hi = np.array([it.hi for it in problem.items])
        ok = np.zeros(self.n, bool)
        xs = None
        if prices is not None:
            ok = np.isfinite(prices) & (prices > 0)
            if ok.any():
                xs = self.best_response(np.where(ok, prices, 1.0), cap)
        # a line item held at one of its own bounds (a lock, a cap, a floor) follows no price: its
        # rule's shadow price comes from the pieces next to the bound, which must be short
        held = np.zeros(self.n, bool)
        if xs is not None:
            bottom = np.minimum(self.lo, cap)
            held = ((np.abs(xs[:, :] - cap) <= 1e-9 * (1 + cap)).any(axis=0)) | (
                (self.lo > 0) & (np.abs(xs - bottom) <= 1e-9 * (1 + bottom)).any(axis=0)
            )
        out = []
        for i in range(self.n):
            if xs is not None and ok[i]:
                pts = np.concatenate([self.coarse[i], xs[:, i]])
                if held[i]:
                    pts = refine_around(
                        pts, float(np.clip(centre[i], self.lo[i], cap[i])), 0.0, hi[i]
                    )
            else:
                pts = previous[i] if previous is not None else self.coarse[i]
                pts = refine_around(pts, float(centre[i]), 0.0, hi[i])
            out.append(_clean(np.asarray(pts, float), hi[i]))
        return out

    def rows(
        self, problem: AllocationProblem, plan: Plan, duals: dict[str, float] | None = None
    ) -> list[_Row]:
        """The rules binding in ``plan`` over several line items, at ``problem``'s budget,
        with ``duals`` (default: the plan's shadow prices) as the starting point."""
        by_name = {c.name: c for c in plan.constraints}
        out: list[_Row] = []
        for con in problem.constraints:
            res = by_name.get(con.name)
            if res is None or not res.binding or not res.shadow_price or con.on_kpi:
                continue
            if len(con.coefs) < 2:
                continue
            coefs = np.zeros(self.n)
            for i, a in con.coefs.items():
                coefs[i] = a
            y = res.shadow_price if duals is None else duals.get(con.name, res.shadow_price)
            out.append(_Row(con.name, coefs, float(con.rhs), float(y)))
        return out

    def prices(self, plan: Plan) -> np.ndarray:
        """The price the plan's shadow prices put on each line item's dollars."""
        return self.prices_from({c.name: c.shadow_price or 0.0 for c in plan.constraints})

    def prices_from(self, duals: dict[str, float]) -> np.ndarray:
        p = np.zeros(self.n)
        for con in self.problem.constraints:
            y = duals.get(con.name, 0.0)
            if y and not con.on_kpi:
                for i, a in con.coefs.items():
                    p[i] += y * a
        return p

    def residual(self, problem: AllocationProblem, duals: dict[str, float], x: np.ndarray) -> float:
        """``engine.kkt_residual`` of a plan rounded to the cent: a line item funded with a few
        cents (a hill curve of shape < 1 has an infinite slope at zero) can miss its price at the
        rounded spend and meet it within the cent, so its marginal return is taken at the best
        spend within half a cent of its own."""
        return kkt_residual(problem, self.bank, duals, x, within=HALF_CENT)

    # --- the walk ---------------------------------------------------------------------------
    def solve_point(self, problem: AllocationProblem, pts: list[np.ndarray]) -> Plan:
        """Solve, and while the plan is not certified, re-place the breakpoints and solve again."""
        t0 = time.perf_counter()
        best: Plan | None = None
        best_value = -np.inf  # best's objective_value
        bound = np.inf
        build_s = solve_s = 0.0
        rounds = 0
        while rounds < self.max_rounds:
            rounds += 1
            plan = solve_problem(problem, points=pts, max_rounds=1, t0=t0, **self.opts)
            build_s += plan.build_seconds
            solve_s += plan.solve_seconds
            if not plan.ok:
                return dataclasses.replace(plan, build_seconds=build_s, solve_seconds=solve_s)
            value, plan_bound = plan.objective_value, plan.bound
            assert value is not None and plan_bound is not None  # a plan (ok) has both
            bound = min(bound, float(plan_bound))
            if best is None or value >= best_value:
                best, best_value = plan, value
            gap = relative_gap(problem, float(best_value), bound)
            best = dataclasses.replace(best, bound=bound, gap=gap)
            x = np.array([li.spend for li in plan.line_items])
            duals = {c.name: c.shadow_price or 0.0 for c in plan.constraints}
            if (
                gap <= self.tolerance
                and self.residual(problem, duals, x) <= self.kkt_tolerance
                or plan.status == "time_limit"
            ):
                break
            pts = self.points(problem, self.prices(plan), x, self.rows(problem, plan), pts)
        assert best is not None
        status = best.status
        if status in ("optimal", "not_certified"):  # the merged rounds' gap decides
            status = certified_status(Status.OPTIMAL, best.gap, self.tolerance)
        return dataclasses.replace(
            best, status=status, rounds=rounds, build_seconds=build_s, solve_seconds=solve_s
        )

    def run(self, progress: Progress | None = None) -> list[Plan]:
        plans: list[Plan] = []
        seen: list[tuple[float, Plan]] = []  # the last (one or two) points with a plan
        for k, b in enumerate(self.budgets):
            problem = with_budget(self.problem, b, self.tops)
            if self.problem.needs_binaries:
                # a MILP: breakpoints placed at predicted prices can leave it a rough picture of an
                # S-curve away from them, and the bound need not close to flag it; so each point
                # gets the allocator's own refinement (the problem is still built once)
                plans.append(
                    solve_problem(
                        problem, max_rounds=self.max_rounds, n_pieces=self.n_pieces, **self.opts
                    )
                )
                if progress is not None:
                    progress(k + 1, len(self.budgets), self.scenario_name)
                continue
            plan = None
            if not seen:
                pts = initial_points(problem, self.n_pieces)
            else:
                prices, centre, duals = self.predict(b, seen)
                # the predicted plan and shadow prices, polished to this budget's exact optimum
                # and certified: no LP at all when the active set carries over
                plan = plan_without_lp(
                    problem,
                    self.bank,
                    centre,
                    duals,
                    solver=self.opts["solver"],
                    tolerance=self.tolerance,
                    kkt_tolerance=self.kkt_tolerance,
                )
                if plan is None:
                    pts = self.points(
                        problem, prices, centre, self.rows(problem, seen[-1][1], duals)
                    )
            if plan is None:
                plan = self.solve_point(problem, pts)
            if plan.status == Status.INFEASIBLE:
                plan = self.replan(problem)
            plans.append(plan)
            if plan.ok:
                seen = [*seen[-1:], (b, plan)]
            if progress is not None:
                progress(k + 1, len(self.budgets), self.scenario_name)
        return plans

    def replan(self, problem: AllocationProblem) -> Plan:
        """A point the walk found infeasible, planned again as optimize plans it, but for the
        search for a KPI floor's exact fix (``explained`` does that for the point whose message
        is said). The walk's pieces, placed for the last budget's prices, lie under the curves:
        a budget they cannot fit may still be feasible (a KPI floor within ~1.5% of its least
        spend read infeasible here and optimal in optimize). For a max_kpi problem (a sweep's)
        ``plan_problem`` is this solve and ``floor_within_rules``, which only rewrites the
        message and costs ~24 solves: so the status, plan and rules that conflict are
        optimize's, and the message names the rules without the diagnosis' padded step."""
        plan = solve_problem(
            problem, max_rounds=self.max_rounds, n_pieces=self.n_pieces, **self.opts
        )
        if plan.status == Status.INFEASIBLE and conflicting_floor(problem, plan) is not None:
            plan = dataclasses.replace(plan, message=plan.message.split(RESOLVE)[0])
        return plan

    def explain(self, b: float) -> Plan:
        """Budget ``b``'s plan as ``optimize`` plans it, its message's fix searched for (the
        plan of an infeasible point whose message is said; ``b`` one of the walk's budgets)."""
        problem = with_budget(self.problem, b, self.tops)
        return plan_problem(
            problem, max_rounds=self.max_rounds, n_pieces=self.n_pieces, **self.opts
        )

    def predict(
        self, b: float, seen: list[tuple[float, Plan]]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Prices, spend and shadow prices at budget ``b``, extrapolated from the last one or
        two points (prices in logs, spend and shadow prices linearly)."""
        b1, plan1 = seen[-1]
        p1 = self.prices(plan1)
        x1 = np.array([li.spend for li in plan1.line_items])
        y1 = {c.name: c.shadow_price or 0.0 for c in plan1.constraints}
        if len(seen) < 2 or seen[-2][0] == b1:
            return p1, x1, y1
        b0, plan0 = seen[-2]
        p0 = self.prices(plan0)
        x0 = np.array([li.spend for li in plan0.line_items])
        y0 = {c.name: c.shadow_price or 0.0 for c in plan0.constraints}
        t = (b - b1) / (b1 - b0)
        x = np.clip(x1 + t * (x1 - x0), self.lo, self.caps(b))
        good = (p0 > 0) & (p1 > 0)
        ratio = np.where(good, p1, 1.0) / np.where(good, p0, 1.0)
        p = np.where(good, p1 * ratio**t, p1)
        y = {k: v + t * (v - y0[k]) if k in y0 and y0[k] * v > 0 else v for k, v in y1.items()}
        return p, x, y
