"""The result of an allocation: a ``Plan`` of line items and constraint results. Plain frozen data."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer.formatting import largest_remainder, split_cents


class Status(enum.StrEnum):
    """A plan's (and a solve's) status. A ``str`` enum: it compares equal to, formats as and is
    written to JSON/CSV as its value ("optimal", "not_certified", …)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ERROR = "error"
    #: a plan that holds every rule, but whose gap to the bound on the exact optimum stayed above
    #: the tolerance: the allocator's own status, never a solver's
    NOT_CERTIFIED = "not_certified"


@dataclass(frozen=True)
class PeriodAmount:
    """Spend and KPI of one period of a plan on a calendar (contract 7)."""

    period: str  # label: 2027-01-04 (week), 2027-01 (month), 2027-Q1 (quarter)
    start: str  # ISO date of its first Monday
    weeks: int
    spend: float
    kpi: float  # modelled KPI in its weeks, carry-over included
    marginal_roi: float | None = None  # d kpi / d (this period's spend), on a line item


@dataclass(frozen=True)
class BreakEven:
    """A plan's break-even economics, with a money KPI (computed by ``optimizer.workflow.economics``,
    whose docstring explains them; a plan carries them in ``extras['break_even']``)."""

    threshold: float  # 1 + hurdle_rate
    hurdle_rate: float
    value_per_kpi: float
    value_source: str
    budget: float | None  # where the marginal money return falls to the threshold
    spend_beyond: float  # this plan's spend beyond that budget
    value_beyond: float | None  # the money that spend buys (value of its KPI)
    marginal_return: float | None  # this plan's last dollar, in money per unit of money
    payback_budget: float | None  # where the marginal return falls to 1 (= budget at hurdle 0)
    reason: str = ""  # why ``budget`` is None
    #: how far the rules hold a max_kpi plan below its budget (0: the budget binds): its last
    #: dollar of budget then buys nothing, while every dollar it spends returns more
    budget_unspent: float = 0.0

    @property
    def return_beyond(self) -> float | None:
        """The money each dollar beyond the break-even budget buys, on average."""
        if self.value_beyond is None or self.spend_beyond <= 0.005:
            return None
        return self.value_beyond / self.spend_beyond

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "budget": self.budget,
            "spend_beyond": self.spend_beyond,
            "hurdle_rate": self.hurdle_rate,
            "value_per_kpi": self.value_per_kpi,
            "value_source": self.value_source,
            "marginal_return": self.marginal_return,
            "payback_budget": self.payback_budget,
            "value_beyond": self.value_beyond,
            "return_beyond": self.return_beyond,
            "max_net_spend": self.budget,
            **({"note": self.reason} if self.reason else {}),
        }


@dataclass(frozen=True)
class LineItem:
    id: str
    stage: str
    spend: float  # total over the horizon, to the cent
    kpi: float  # modelled incremental KPI over the horizon (smooth curve)
    roi: float | None  # kpi / spend (None when unfunded)
    marginal_roi: float  # d kpi / d spend at the plan point, from the smooth curve
    binding: tuple[str, ...] = ()  # constraints that hold this line item where it is
    weekly_spend: float = 0.0
    lower: float = 0.0  # the least it could be given its own rules
    upper: float = float("inf")  # the most it could be given caps and the budget
    reduced_cost: float = 0.0  # its marginal return less the price the duals put on its dollars
    other_kpis: Mapping[str, float] = field(default_factory=dict)  # other KPIs it buys (horizon)
    market: str | None = None  # with a markets index: the market it is bought in (None: national)
    owner: str | None = None  # who holds its budget (the journey's owner)
    #: with markets: each market's share of its spend (one market at 1.0; a national buy's split)
    shares: Mapping[str, float] = field(default_factory=dict)
    #: with markets: its KPI in each market (a national buy's response in each market)
    market_kpi: Mapping[str, float] = field(default_factory=dict)
    periods: tuple[PeriodAmount, ...] = ()  # a phased plan's spend and KPI by period
    kpi_after: float = 0.0  # KPI its spend earns after the horizon (counted with after: true)

    @property
    def key(self) -> str:
        """Its name in a plan: the touchpoint, ``touchpoint@market`` with markets, and
        ``touchpoint@national`` for a national buy."""
        if self.market is not None:
            return f"{self.id}@{self.market}"
        return f"{self.id}@national" if self.shares else self.id

    @property
    def market_spend(self) -> dict[str, float]:
        """With markets: its spend in each market, in cents that sum to its own (a national
        buy's split by largest remainder, ``formatting.split_cents``)."""
        parts = split_cents(self.spend, self.shares.values())
        return {m: float(v) for m, v in zip(self.shares, parts, strict=True)}


@dataclass(frozen=True)
class ConstraintResult:
    name: str
    kind: str
    subject: str
    label: str
    sense: str
    rhs: float
    lhs: float
    slack: float  # how far from binding, >= 0 when satisfied
    binding: bool
    shadow_price: float | None  # d objective / d rhs, objective's units and sense


@dataclass(frozen=True)
class Plan:
    scenario: str
    #: optimal (gap <= tolerance) | not_certified (a plan whose gap stayed above the tolerance,
    #: or whose cents break a rule: rounding.said_in_cents) | infeasible | unbounded |
    #: time_limit | error
    status: Status
    objective: str  # max_kpi | min_spend | max_net
    kpi: str
    horizon_weeks: int
    budget: float | None
    line_items: tuple[LineItem, ...] = ()
    constraints: tuple[ConstraintResult, ...] = ()
    objective_value: float | None = None  # true (smooth-curve) objective of the plan
    bound: float | None = None  # best bound on the exact optimum
    gap: float | None = None  # relative gap between objective_value and bound
    solver: str = ""
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    rounds: int = 0
    pieces: int = 0
    conflicts: tuple[str, ...] = ()  # names of the constraints that cannot hold together
    message: str = ""
    source: str | None = None
    stages: tuple[str, ...] = ()
    extras: Mapping[str, object] = field(default_factory=dict)
    markets: tuple[str, ...] = ()  # with a markets index: its markets, in order
    start: str | None = None  # a dated plan's first Monday (ISO date)
    phasing: str = "none"  # week | month | quarter | none
    periods: tuple[PeriodAmount, ...] = ()  # a phased plan's totals by period
    kpi_after: float = 0.0  # KPI earned after the horizon (with carryover.after: true)

    @property
    def ok(self) -> bool:
        """There is a plan that holds every rule (certified or not)."""
        if self.status == "time_limit":  # out of time: a plan only if one was found
            return bool(self.line_items)
        return self.status in ("optimal", "not_certified")

    @property
    def break_even(self) -> BreakEven | None:
        """``extras['break_even']``: the plan's break-even economics (with a money KPI)."""
        be = self.extras.get("break_even")
        return be if isinstance(be, BreakEven) else None

    @property
    def extrapolation(self) -> list[Mapping[str, Any]]:
        """``extras['extrapolation']``: the line items whose curve is used beyond its data, one
        mapping each (``id``, ``market``, ``kind``, ``weekly_spend``, ``max_seen``)."""
        ex = self.extras.get("extrapolation")
        return list(ex) if isinstance(ex, list | tuple) else []

    @property
    def certified(self) -> bool:
        return self.status == "optimal"

    @property
    def total_spend(self) -> float:
        return float(round(sum(li.spend for li in self.line_items), 2))

    @property
    def total_kpi(self) -> float:
        return float(sum(li.kpi for li in self.line_items))

    @property
    def roi(self) -> float | None:
        s = self.total_spend
        return self.total_kpi / s if s > 0 else None

    def stage_totals(self) -> dict[str, dict[str, float]]:
        """Spend and KPI per stage, in journey order; stages with no line item are left out."""
        out: dict[str, dict[str, float]] = {}
        order = list(self.stages) + [
            li.stage for li in self.line_items if li.stage not in self.stages
        ]
        for st in dict.fromkeys(order):
            items = [li for li in self.line_items if li.stage == st]
            if not items:
                continue
            out[st] = {
                "spend": float(round(sum(li.spend for li in items), 2)),
                "kpi": float(sum(li.kpi for li in items)),
            }
        return out

    def owner_totals(self) -> dict[str, dict[str, float]]:
        """Spend and KPI per budget owner (the journey's ``owner``), in order of first line item;
        line items without an owner are left out."""
        out: dict[str, dict[str, float]] = {}
        for o in dict.fromkeys(li.owner for li in self.line_items if li.owner):
            items = [li for li in self.line_items if li.owner == o]
            out[o] = {
                "spend": float(round(sum(li.spend for li in items), 2)),
                "kpi": float(sum(li.kpi for li in items)),
            }
        return out

    @property
    def has_markets(self) -> bool:
        return any(li.shares for li in self.line_items)

    def market_totals(self) -> dict[str, dict[str, float]]:
        """Spend and KPI per market (a national buy counted in each market by its split), in the
        index's order; empty without markets."""
        out: dict[str, dict[str, float]] = {}
        for li in self.line_items:
            for m, v in li.market_spend.items():
                t = out.setdefault(m, {"spend": 0.0, "kpi": 0.0})
                t["spend"] += v
                t["kpi"] += li.market_kpi.get(m, 0.0)
        for t in out.values():
            t["spend"] = float(round(t["spend"], 2))
        return out

    def market_stage_totals(self) -> dict[str, dict[str, float]]:
        """Spend per market and stage: ``{market: {stage: spend}}`` (journey order)."""
        out: dict[str, dict[str, float]] = {}
        for li in self.line_items:
            for m, v in li.market_spend.items():
                row = out.setdefault(m, {})
                row[li.stage] = row.get(li.stage, 0.0) + v
        return out

    def item(self, tid: str, market: str | None = None) -> LineItem:
        """The line item of touchpoint ``tid`` (in ``market``, with markets; ``tid@market`` works
        too)."""
        if market is None and "@" in tid and not any(li.id == tid for li in self.line_items):
            tid, market = tid.split("@", 1)
        for li in self.line_items:
            if li.id == tid and (
                market is None or li.market == market or li.key == f"{tid}@{market}"
            ):
                return li
        raise KeyError(tid if market is None else f"{tid}@{market}")

    def constraint(self, name: str) -> ConstraintResult:
        for c in self.constraints:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def budget_shadow_price(self) -> float | None:
        for c in self.constraints:
            if c.name == "budget":
                return c.shadow_price
        return None


#: a shadow price this small is the solver's float noise, not a price (a budget that no longer
#: binds was priced 1.9e-14 per unit on a phased plan): it is reported as 0
PRICE_NOISE = 1e-9


def clean_price(sp: float | None) -> float | None:
    """A dual as a shadow price: float noise (``PRICE_NOISE``) becomes 0; None stays None."""
    if sp is None:
        return None
    return 0.0 if abs(float(sp)) < PRICE_NOISE else float(sp)


def certified_status(status: Status, gap: float | None, tolerance: float) -> Status:
    """``optimal`` only when the gap is within the tolerance: an "optimal" plan whose gap is
    above it (or unknown) is ``not_certified``; any other status is kept."""
    if status != Status.OPTIMAL:
        return status
    if gap is None or not gap <= tolerance:
        return Status.NOT_CERTIFIED
    return status


def round_cents(values: np.ndarray) -> np.ndarray:
    """Round to cents so that the rounded parts sum to the rounded total (largest remainder).

    Solver values carry float noise (399999.99999997); money is reported to the cent and the line
    items always add up to the plan's total.
    """
    v = np.maximum(np.asarray(values, float), 0.0) * 100.0
    base = largest_remainder(v, int(round(float(v.sum()))), eps=1e-6, nonnegative=True)
    return base / 100.0


def market_kpi(it: Any, spend: float, kpi: str) -> dict[str, float]:
    """A line item's KPI in each market it reaches (a national buy's per-market responses)."""
    shares = it.market_shares()
    if not shares:
        return {}
    c = it.kpis.get(kpi)
    if c is None:
        return {m: 0.0 for m in shares}
    if not c.parts:
        return {next(iter(shares)): float(c.value(spend))}
    out = {}
    for (w, r, k), m in zip(c._terms(), shares, strict=True):  # noqa: SLF001
        out[m] = float(w * c.weeks * r.weekly_kpi(k * spend / c.weeks))
    return out


def funded_word(problem: Any, i: int, amount: float) -> str:
    """What a line item held at its zero-or-at-least minimum lists: the rule that set it
    (``min_if_funded``, or the scenario's ``min_line_item``)."""
    for r in problem.item_rules:
        if r.item == i and r.kind == "min_line_item" and abs(r.amount - amount) <= 0.005:
            return "min_line_item"
    return "min_if_funded"
