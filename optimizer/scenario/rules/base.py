"""What every rule kind is made of, solver-free: the rows it adds to the allocation problem, the
selectors that pick a row's members, unique constraint names, and the ``RuleKind`` base class.

A rule kind turns its part of a scenario into *rows*: ``Σ_{i in members} a_i · x_i  sense  rhs``
over line-item spend ``x`` (or over line-item KPI, ``on_kpi``), each with a stable name of
``[A-Za-z0-9_]`` only and a label a planner reads ("the tv maximum (400,000)"). The allocation
layer turns rows into solver constraints; nothing here knows about a solver.

Members are chosen by a selector on ``LineItems`` (a touchpoint, a list of touchpoints, a stage,
every line item), never by position, so that a plan whose line items are touchpoint × period or
touchpoint × market needs no change to a kind: ``items.touchpoint("tv")`` then picks every period
(or market) of tv, and a rule scoped to one market runs the same kind on ``items.within(market=…)``
with a ``RowSink.within`` that names and labels its rows by that scope.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from optimizer.formatting import money as format_money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario

SENSES = ("<=", ">=", "==")


def money(v: float) -> str:
    """Money as a rule states it: 1,234,567 (cents shown only when there are any)."""
    return format_money(v, "any")


def safe_name(s: str) -> str:
    """``s`` with every character outside ``[A-Za-z0-9_]`` replaced by ``_`` (not unique: see
    ``Names``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


@dataclass(frozen=True)
class LinearConstraint:
    """One row of the allocation problem: ``Σ coefs[i] · x_i  sense  rhs``.

    ``x_i`` is line item i's total spend over the horizon, or its KPI when ``on_kpi`` (of KPI
    ``kpi``; None: the main KPI). ``kind`` is the row's kind (``tp_max``, ``stage_min_share`` …,
    part of the JSON contract); ``subject`` the touchpoint, stage, group, ratio or KPI it is about
    ("" for the budget).
    """

    name: str
    kind: str
    subject: str
    sense: str  # "<=", ">=", "=="
    rhs: float
    coefs: Mapping[int, float]  # line-item index → coefficient
    label: str
    on_kpi: bool = False
    kpi: str | None = None
    #: the rule's own number when it is not ``rhs``: the share of a share rule, the ratio of a
    #: ratio rule (their rows have ``rhs`` 0 and carry it in the coefficients)
    value: float | None = None
    #: what ``value`` multiplies: the spend a share is of, a ratio's denominator (line item →
    #: weight); the row is ``members - value · base``
    base: Mapping[int, float] | None = None

    def base_lhs(self, values: Sequence[float]) -> float:
        """``base · values``: the spend a share is of, or a ratio's denominator spend."""
        return float(sum(a * float(values[i]) for i, a in (self.base or {}).items()))

    def lhs(self, values: Sequence[float]) -> float:
        """The row's left-hand side at per-line-item ``values`` (spend, or KPI for ``on_kpi``)."""
        return float(sum(a * float(values[i]) for i, a in self.coefs.items()))

    @property
    def is_money_cap(self) -> bool:
        """A cap on a sum of spend (every coefficient 1): each member alone is capped by it too."""
        return (
            not self.on_kpi
            and self.sense in ("<=", "==")
            and bool(self.coefs)
            and all(a == 1.0 for a in self.coefs.values())
        )


@dataclass(frozen=True)
class ItemRule:
    """A rule on one line item that needs an integer variable rather than a row: ``min_if_funded``
    (zero, or at least ``amount``) or ``block`` (a whole number of blocks of ``amount``)."""

    name: str
    kind: str  # "tp_min_if_funded" | "tp_block"
    subject: str
    item: int
    amount: float
    label: str


@dataclass(frozen=True)
class LineItemRef:
    """What a rule can select a line item by. The calendar adds ``period``, markets ``market``."""

    index: int
    touchpoint: str
    stage: str
    period: str | None = None
    market: str | None = None
    owner: str | None = None  # who holds its budget (the journey's owner)
    #: a national buy (``market`` None): each market's share of its spend
    split: Mapping[str, float] | None = None

    def share_in(self, market: str) -> float:
        """How much of its spend counts in ``market`` (1 or 0; a national buy's share)."""
        if self.split is not None:
            return float(self.split.get(market, 0.0))
        return 1.0 if self.market == market else 0.0


class LineItems:
    """The line items of a plan and the selectors that choose a row's members.

    Every selector returns line-item indices in plan order. ``within`` narrows every selector to
    the line items of one period and/or market (for rules scoped to it).
    """

    def __init__(
        self,
        refs: Sequence[LineItemRef],
        *,
        kpi: str = "",
        kpi_touchpoints: Mapping[str, frozenset[str]] | None = None,
        keep: Callable[[LineItemRef], bool] | None = None,
        count: int | None = None,
        weights: Mapping[int, float] | None = None,
    ) -> None:
        self.refs = tuple(refs)
        #: line item → how much of its spend counts in scope, where not all of it does (a
        #: national buy's share in the market of ``within(market=…)``)
        self.weights = dict(weights or {})
        #: the main KPI, and per KPI the touchpoints that have a curve for it
        self.kpi = kpi
        self.kpi_touchpoints = dict(kpi_touchpoints or {})
        self._keep = keep
        self._count = len(self.refs) if count is None else count
        self._by_market: dict[str | None, list[LineItemRef]] | None = None
        self._in_market: dict[str, dict[int, float]] | None = None

    def _pick(self, test: Callable[[LineItemRef], bool]) -> tuple[int, ...]:
        keep = self._keep
        return tuple(r.index for r in self.refs if test(r) and (keep is None or keep(r)))

    @property
    def count(self) -> int:
        """How many line items the plan has (all of them, whatever the scope)."""
        return self._count

    def in_market(self, market: str) -> dict[int, float]:
        """Line item → how much of its spend counts in ``market`` (``LineItemRef.share_in``; the
        line items with none left out), in plan order. Every market's is made in one pass over
        the line items, so rules on every market cost time linear in the markets."""
        if self._in_market is None:
            out: dict[str, dict[int, float]] = {}
            for r in self.refs:
                if r.split is not None:
                    for m, w in r.split.items():
                        if float(w) > 0:
                            out.setdefault(m, {})[r.index] = float(w)
                elif r.market is not None:
                    out.setdefault(r.market, {})[r.index] = 1.0
            self._in_market = out
        return dict(self._in_market.get(market, {}))

    @property
    def all(self) -> tuple[int, ...]:
        """Every line item (in scope)."""
        return self._pick(lambda r: True)

    def touchpoint(self, tid: str) -> tuple[int, ...]:
        return self._pick(lambda r: r.touchpoint == tid)

    def touchpoints(self, tids: Iterable[str]) -> tuple[int, ...]:
        wanted = set(tids)
        return self._pick(lambda r: r.touchpoint in wanted)

    def stage(self, stage: str) -> tuple[int, ...]:
        return self._pick(lambda r: r.stage == stage)

    def owner(self, owner: str) -> tuple[int, ...]:
        return self._pick(lambda r: r.owner == owner)

    def with_kpi(self, kpi: str) -> tuple[int, ...]:
        """The line items whose touchpoint has a curve for ``kpi`` (every one for the main KPI)."""
        has = self.kpi_touchpoints.get(kpi)
        if has is None:
            return self.all
        return self._pick(lambda r: r.touchpoint in has)

    def weight(self, i: int) -> float:
        """How much of line item ``i``'s spend counts in scope (1 but for a national buy's share
        in a market)."""
        return self.weights.get(i, 1.0)

    def within(self, *, period: str | None = None, market: str | None = None) -> LineItems:
        """The same line items with every selector narrowed to one period and/or market. A
        market's line items are its own and every national buy that reaches it, the buy weighted
        by its share there (``weight``): a stage or group rule in the market counts that share,
        as the market's own money rules and every table of the market's spend do."""

        def keep(r: LineItemRef) -> bool:
            return (
                (self._keep is None or self._keep(r))
                and (period is None or r.period == period)
                and (market is None or r.share_in(market) > 0)
            )

        refs: Sequence[LineItemRef] = self.refs
        weights = self.weights
        if market is not None:  # the market's line items, grouped once for every market
            if self._by_market is None:
                self._by_market = {}
                for r in self.refs:
                    if r.split is None:
                        self._by_market.setdefault(r.market, []).append(r)
                        continue
                    for m, w in r.split.items():
                        if float(w) > 0:
                            self._by_market.setdefault(m, []).append(r)
            refs = self._by_market.get(market, [])
            weights = {r.index: r.share_in(market) for r in refs if r.split is not None}
        return LineItems(
            refs,
            kpi=self.kpi,
            kpi_touchpoints=self.kpi_touchpoints,
            keep=keep,
            count=self._count,
            weights=weights,
        )


class Names:
    """Constraint names unique by construction.

    ``kind__subject`` with the subject made safe (``tp_max__paid_social``); two subjects that are
    made safe alike (ids ``a-b`` and ``a_b``) or anything else already taken get ``_2``, ``_3`` …
    in the order the rows are made, so a scenario can never produce a name collision.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, *parts: str) -> str:
        base = "__".join(safe_name(p) for p in parts if p != "")
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        return name


class RowSink:
    """Collects the rows and integer rules the rule kinds make, naming each uniquely.

    ``within(scope)`` gives a sink for rules scoped to one period or market: its rows are named
    ``kind__scope__subject`` and labelled "… in scope".
    """

    def __init__(self, names: Names | None = None, scope: str = "") -> None:
        self.names = names or Names()
        self.scope = scope
        self.rows: list[LinearConstraint] = []
        self.item_rules: list[ItemRule] = []
        #: rows whose single member's spend can never fall below the right-hand side: the line
        #: item's range starts there (a touchpoint's own minimum, lock, change limit)
        self.floors: set[str] = set()
        self._children: list[RowSink] = []

    def within(self, scope: str) -> RowSink:
        child = RowSink(self.names, scope)
        self._children.append(child)
        return child

    def _label(self, label: str) -> str:
        return f"{label} in {self.scope}" if self.scope else label

    def row(
        self,
        kind: str,
        subject: str,
        sense: str,
        rhs: float,
        coefs: Mapping[int, float],
        label: str,
        *,
        on_kpi: bool = False,
        kpi: str | None = None,
        item_floor: bool = False,
        bare: bool = False,
        value: float | None = None,
        base: Mapping[int, float] | None = None,
    ) -> LinearConstraint:
        """Add a row ``Σ coefs · x  sense  rhs``; ``item_floor``: it is a floor on one line item's
        own spend (the item's range then starts at ``rhs``); ``bare``: named by its kind alone
        (``budget``), not by its subject."""
        if sense not in SENSES:
            raise ValueError(f"unknown sense {sense!r}")
        if not math.isfinite(rhs):
            raise ValueError(f"the right-hand side of a {kind} row must be finite, got {rhs!r}")
        name = self.names.take(kind, self.scope, "" if bare else subject)
        con = LinearConstraint(
            name,
            kind,
            subject,
            sense,
            float(rhs),
            dict(coefs),
            self._label(label),
            on_kpi,
            kpi,
            value,
            None if base is None else dict(base),
        )
        self.rows.append(con)
        if item_floor and len(con.coefs) == 1 and sense in (">=", "=="):
            self.floors.add(name)
        return con

    def item_rule(self, kind: str, subject: str, item: int, amount: float, label: str) -> ItemRule:
        rule = ItemRule(
            self.names.take(kind, self.scope, subject),
            kind,
            subject,
            item,
            float(amount),
            self._label(label),
        )
        self.item_rules.append(rule)
        return rule

    def all_rows(self) -> list[LinearConstraint]:
        return [*self.rows, *(r for c in self._children for r in c.all_rows())]

    def all_item_rules(self) -> list[ItemRule]:
        return [*self.item_rules, *(r for c in self._children for r in c.all_item_rules())]

    def all_floors(self) -> set[str]:
        return self.floors.union(*(c.all_floors() for c in self._children))


@dataclass(frozen=True)
class ModelNames:
    """What a scenario may refer to, from the model: touchpoints (with their stage) and stages."""

    touchpoint_stages: Mapping[str, str]
    stages: tuple[str, ...] = field(default_factory=tuple)
    owners_of: Mapping[str, str | None] = field(default_factory=dict)  # touchpoint → owner

    @property
    def touchpoints(self) -> list[str]:
        return list(self.touchpoint_stages)


@dataclass(frozen=True)
class Fix:
    """A change to one rule that, with the other fixes suggested with it, makes a conflicting rule
    set feasible: ``direction`` ("raise" | "lower") the rule ``name`` by ``step`` in its own unit."""

    name: str
    label: str
    direction: str
    step: float
    unit: str  # "money" | "share" | "ratio" | "kpi"

    @property
    def words(self) -> str:
        if self.unit == "share":
            amount = f"{100 * self.step:.2f}".rstrip("0").rstrip(".") + " percentage points"
        elif self.unit == "ratio":
            amount = f"{self.step:.4g}"
        else:
            amount = money(self.step)
        return f"{self.direction} {self.label} by {amount}"


class RuleKind:
    """One kind of rule: its rows in the problem, how it is relaxed, priced and named in words.

    Subclasses set ``row_kinds`` (the ``kind`` of every row they write) and implement
    ``add_rows``; the defaults below fit a rule on money (``unit = "money"``: its right-hand side
    is an amount of spend). A kind whose right-hand side is a share of total spend, a ratio or a
    KPI amount overrides ``unit`` and the methods that depend on it.
    """

    #: the ``kind`` of every row (or integer rule) it writes
    row_kinds: ClassVar[tuple[str, ...]] = ()
    #: what the rule's own number counts: money, share (of total spend), ratio or kpi
    unit: ClassVar[str] = "money"
    #: does ``constraint_costs`` price it? (the budget and a KPI target define the objective)
    costed: ClassVar[bool] = True
    #: row kind → the word a line item's ``binding`` list uses for it ("min"); else the row's name
    binding_words: ClassVar[Mapping[str, str]] = {}

    # --- the problem ---------------------------------------------------------------------------
    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        """Problems with this kind's part of ``sc`` (``"field 'x.y': message"``); ``model`` is
        None for the checks that need no model (they run when a scenario is loaded)."""
        return []

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        """Add this kind's rows for ``sc`` to ``out``."""
        raise NotImplementedError

    # --- the diagnosis, the review and the comparison -----------------------------------------
    def unit_of(self, row: LinearConstraint) -> str:
        """What ``row``'s rule counts: money, share, ratio or kpi (a kind may write rows of two)."""
        return self.unit

    def relax(
        self, sc: Scenario, row: LinearConstraint, step: float, direction: str
    ) -> Scenario | None:
        """``sc`` with the rule behind ``row`` moved by ``step`` (in ``unit``) in ``direction``
        ("raise" | "lower"); None when it cannot be moved that way."""
        return None

    def per_unit(self, row: LinearConstraint, shadow: float, spend: Sequence[float]) -> float:
        """Objective per unit of the rule's own number, from the row's shadow price."""
        return shadow

    def amount(self, row: LinearConstraint, spend: Sequence[float]) -> float:
        """The rule's size in money (``constraint_costs`` relaxes it by a fraction of this)."""
        return abs(row.rhs)

    def step_to_hold(
        self, row: LinearConstraint, spend: Sequence[float], lhs: float
    ) -> tuple[str, float] | None:
        """How to move the rule (direction, step in ``unit``) so that it holds at ``spend``,
        where the row's left-hand side is ``lhs``; None when it already holds."""
        over = lhs - row.rhs
        if row.sense in ("<=", "==") and over > 0:
            return "raise", over
        if row.sense in (">=", "==") and over < 0:
            return "lower", -over
        return None

    def binding_word(self, row: LinearConstraint, coef: float) -> str | None:
        """What a line item with coefficient ``coef`` in binding ``row`` lists it as (None: not
        at all)."""
        return self.binding_words.get(row.kind, row.name)

    def kind_words(self, row_kind: str) -> str:
        """A row kind in words for a reader (``tp_max`` → "touchpoint maximum"); the JSON and
        the CSV keep the kind itself."""
        return " ".join(_KIND_TOKENS.get(t, t) for t in row_kind.split("_") if t)


#: the abbreviations in row kinds, spelled out (``kind_words``)
_KIND_TOKENS = {
    "tp": "touchpoint",
    "min": "minimum",
    "max": "maximum",
    "kpi": "KPI",
    "up": "(up)",
    "down": "(down)",
}
