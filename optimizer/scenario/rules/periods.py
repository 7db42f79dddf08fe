"""Rules on a period's spend (contract 7): for a dated, phased scenario, the total of a period, of
a touchpoint, stage or group in a period, flighting (zero or at least), dark periods (``max: 0``)
and a limit on the change between consecutive periods.

```yaml
periods:                       # all spend, by period label
  2027-Q2: {max: 2500000}      # a quarterly budget
  2027-08: {max: 0}            # nothing in August
per_period: {max: 1000000}     # every period of the plan's phasing
touchpoints:
  tv:
    per_period: {max: 600000, min_if_funded: 150000, max_change: 0.5}
    periods: {2027-12: {min: 300000}}
stages:
  awareness: {periods: {2027-Q1: {min: 900000}}}
```

A label is a week (``2027-01-04``, its Monday), a month (``2027-03``) or a quarter
(``2027-Q2``); a week belongs to the month (and quarter) of its Monday. A label of another
granularity than the phasing counts each decision period by the share of its weeks inside the
label (a week under monthly phasing is its month's spend / the month's weeks). ``max_change``
(in ``per_period`` only) bounds the move of the weekly rate from one period to the next:
``|rate_p - rate_{p-1}| <= max_change · rate_{p-1}``.

Rows ``period_min`` / ``period_max`` (all spend), ``tp_period_min`` / ``tp_period_max``,
``stage_period_…``, ``group_period_…``, ``…_period_change_up`` / ``…_period_change_down``, named
by the period (``tp_period_max__2027_03__tv``) and labelled "… in 2027-03"; the integer rule
``tp_period_min_if_funded`` per touchpoint and decision period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from optimizer.calendar import Calendar, label_kind, nested_pairs
from optimizer.formatting import share_exact
from optimizer.scenario.fields import Money, Strict, check_money
from optimizer.scenario.rules.base import LineItems, ModelNames, RowSink, RuleKind, money

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class PeriodRule(Strict):
    """A rule on spend in one period: ``min``, ``max`` (0: a dark period), ``min_if_funded``
    (zero, or at least this: flighting), ``max_change`` (per_period only)."""

    min: Money | None = None
    max: Money | None = None
    min_if_funded: Money | None = None
    max_change: float | None = Field(default=None, ge=0)

    @field_validator("min", "max", "min_if_funded", mode="before")
    @classmethod
    def _money(cls, v: Any, info: Any) -> Any:
        return check_money(v, f"'{info.field_name}'")

    @model_validator(mode="after")
    def _consistent(self) -> PeriodRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:,.0f}) is above max ({self.max:,.0f})")
        if (
            self.min_if_funded is not None
            and self.max is not None
            and self.min_if_funded > self.max
        ):
            raise ValueError(
                f"min_if_funded ({self.min_if_funded:,.0f}) is above max ({self.max:,.0f})"
            )
        return self


def period_labels(v: Any) -> Any:
    """A ``periods:`` mapping with its week labels as written: YAML reads an unquoted key
    ``2027-01-04`` as a date, which is the week's label (``'2027-01-04'``)."""
    if isinstance(v, Mapping):
        return {k.isoformat() if isinstance(k, dt.date) else k: x for k, x in v.items()}
    return v


def _malformed(label: str, kind: str) -> str | None:
    """What is wrong with a label that has a period's form but names none (``2027-13``,
    ``2027-02-30``) or a week by a day that is not its Monday; None when it is well formed."""
    if kind == "month" and not 1 <= int(label[5:7]) <= 12:
        return f"{label} is not a month (months run 01 to 12)"
    if kind == "week":
        try:
            d = dt.date.fromisoformat(label)
        except ValueError:
            return f"{label} is not a date"
        if d.weekday() != 0:
            monday = d - dt.timedelta(days=d.weekday())
            return (
                f"a week is labelled by its Monday: {label} is a {d:%A} (its week's Monday is "
                f"{monday.isoformat()})"
            )
    return None


class PeriodFields(Strict):
    """``per_period`` (the same rule in every period) and ``periods`` (rules by period label), on
    touchpoints, stages and groups."""

    per_period: PeriodRule | None = None
    periods: dict[str, PeriodRule] = Field(default_factory=dict)

    @field_validator("periods", mode="before")
    @classmethod
    def _labels(cls, v: Any) -> Any:
        return period_labels(v)


def _market_period_rules(sc: Scenario) -> list[str]:
    """Period rules scoped to a market (``markets.M.periods``, ``markets.M.per_period`` and those
    of its touchpoints, stages and groups) are refused: the schema took them (a market's rules are
    the national ones' kinds) but no row was made of them, so a south cap of 5 in February was
    planned at 131,324 without a word."""
    out = []
    for m, rule in (getattr(sc, "markets", None) or {}).items():
        scoped = [("", rule)]
        for section in ("touchpoints", "stages", "groups"):
            scoped += [
                (f"{section}.{k}.", r) for k, r in (getattr(rule, section, None) or {}).items()
            ]
        for where, r in scoped:
            for key in ("per_period", "periods"):
                if getattr(r, key, None):
                    out.append(
                        f"field 'markets.{m}.{where}{key}': period rules scoped to a market are "
                        "not supported yet; state them at the top level (over every market "
                        "together)"
                    )
    return out


class CarryOver(Strict):
    """``carryover: {before: history.csv, after: true}``: the spend before ``start`` still works
    in the first weeks; what the horizon's spend earns after it ends is counted."""

    before: str | None = None
    after: bool = False


def _subjects(sc: Scenario) -> Iterator[tuple[str, str, str, Any]]:
    """(section path, row prefix, subject, rule with per_period / periods) for every place a period
    rule can sit: the top level, touchpoints, stages, groups."""
    yield "", "period", "", sc
    for tid, tp_rule in sc.touchpoints.items():
        yield f"touchpoints.{tid}.", "tp_period", tid, tp_rule
    for st, stage_rule in sc.stages.items():
        yield f"stages.{st}.", "stage_period", st, stage_rule
    for g, group_rule in sc.groups.items():
        yield f"groups.{g}.", "group_period", g, group_rule


def has_period_rules(sc: Scenario) -> list[str]:
    """The fields holding period rules (to say where they are when the scenario is undated)."""
    out = []
    for where, _prefix, _subject, r in _subjects(sc):
        if getattr(r, "per_period", None) is not None:
            out.append(f"{where}per_period")
        if getattr(r, "periods", None):
            out.append(f"{where}periods")
    return out


def _what(prefix: str, subject: str) -> str:
    return {
        "period": "total spend",
        "tp_period": subject,
        "stage_period": f"{subject} stage",
        "group_period": f"'{subject}' group",
    }[prefix]


class PeriodRules(RuleKind):
    row_kinds = (
        "period_min",
        "period_max",
        "tp_period_min",
        "tp_period_max",
        "stage_period_min",
        "stage_period_max",
        "group_period_min",
        "group_period_max",
        "period_change_up",
        "period_change_down",
        "tp_period_change_up",
        "tp_period_change_down",
        "stage_period_change_up",
        "stage_period_change_down",
        "group_period_change_up",
        "group_period_change_down",
        "tp_period_min_if_funded",
    )
    binding_words = {  # noqa: RUF012 - read-only
        "tp_period_min": "period_min",
        "tp_period_max": "period_max",
        "tp_period_min_if_funded": "period_min_if_funded",
        "tp_period_change_up": "period_change",
        "tp_period_change_down": "period_change",
    }

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is not None:
            return []
        problems: list[str] = []
        cal = sc.calendar
        phased = cal is not None and sc.phasing != "none"
        if sc.phasing != "none" and sc.start is None:
            problems.append(
                f"field 'phasing': phasing by {sc.phasing} needs a 'start' date "
                "(the plan's first Monday, e.g. 2027-01-04)"
            )
        if sc.carryover is not None and sc.start is None:
            problems.append(
                "field 'carryover': carry-over needs a dated plan: give 'start' (and 'phasing')"
            )
        problems += _market_period_rules(sc)
        if not phased:
            for where in has_period_rules(sc):
                problems.append(
                    f"field '{where}': period rules need a dated, phased plan: give 'start' "
                    "and 'phasing' (week, month or quarter)"
                )
            return problems
        assert cal is not None
        decision = {p.label for p in cal.periods}
        for where, prefix, _subject, r in _subjects(sc):
            pp = getattr(r, "per_period", None)
            if pp is not None and pp.min_if_funded is not None and prefix != "tp_period":
                problems.append(
                    f"field '{where}per_period.min_if_funded': zero-or-at-least is for a "
                    "touchpoint's periods (under 'touchpoints')"
                )
            labels = getattr(r, "periods", None) or {}
            for label, rule in labels.items():
                f = f"{where}periods.{label}"
                kind = label_kind(label)
                if kind is None:
                    problems.append(
                        f"field '{f}': not a period label; use a month (2027-03), a quarter "
                        "(2027-Q2) or a week's Monday (2027-01-04)"
                    )
                    continue
                wrong = _malformed(label, kind)
                if wrong:
                    problems.append(f"field '{f}': {wrong}")
                    continue
                if not cal.weeks_of(label):
                    problems.append(
                        f"field '{f}': {label} is not in the plan's horizon "
                        f"({cal.start.isoformat()} to {cal.end.isoformat()})"
                    )
                    continue
                if rule.max_change is not None:
                    problems.append(
                        f"field '{f}.max_change': a limit on the change between periods goes "
                        "under 'per_period'"
                    )
                if rule.min_if_funded is not None and (
                    prefix != "tp_period" or label not in decision
                ):
                    problems.append(
                        f"field '{f}.min_if_funded': zero-or-at-least applies to a touchpoint "
                        f"in one of the plan's {sc.phasing} periods"
                    )
            problems += _nested_conflicts(where, labels, cal, pp)
        return problems

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        cal = sc.calendar
        if cal is None or sc.phasing == "none":
            return
        refs = items.refs
        if not refs or refs[0].period is None:
            return  # the undated problem (a phased plan's line items carry their period)
        index = {p.label: k for k, p in enumerate(cal.periods)}
        period_of = {r.index: index[r.period] for r in refs if r.period in index}
        periods = cal.periods
        for _where, prefix, subject, r in _subjects(sc):
            members = _members(items, prefix, subject, sc)
            what = _what(prefix, subject)
            pp = getattr(r, "per_period", None)
            rules: list[tuple[str, Any]] = []
            if pp is not None:
                rules += [(p.label, pp) for p in periods]
            rules += list((getattr(r, "periods", None) or {}).items())
            for label, rule in rules:
                weeks = set(cal.weeks_of(label))
                coefs: dict[int, float] = {}
                for i in members:
                    per = periods[period_of[i]]
                    share = len(weeks.intersection(per.weeks)) / per.n_weeks
                    if share > 0:
                        coefs[i] = share
                if not coefs:
                    continue
                scoped = out.within(label)
                if rule.min is not None:
                    scoped.row(
                        f"{prefix}_min",
                        subject,
                        ">=",
                        rule.min,
                        coefs,
                        f"the {what} floor ({money(rule.min)})",
                        bare=prefix == "period",
                    )
                if rule.max is not None:
                    word = "dark period" if rule.max == 0 else f"cap ({money(rule.max)})"
                    scoped.row(
                        f"{prefix}_max",
                        subject,
                        "<=",
                        rule.max,
                        coefs,
                        f"the {what} {word}",
                        bare=prefix == "period",
                    )
                if rule.min_if_funded and prefix == "tp_period" and label in index:
                    for i, a in coefs.items():
                        if a == 1.0:
                            scoped.item_rule(
                                "tp_period_min_if_funded",
                                subject,
                                i,
                                rule.min_if_funded,
                                f"the {subject} minimum if funded ({money(rule.min_if_funded)})",
                            )
            if pp is not None and pp.max_change is not None:
                c = float(pp.max_change)
                by_p: dict[int, list[int]] = {}
                for i in members:
                    by_p.setdefault(period_of[i], []).append(i)
                for k in range(1, len(periods)):
                    now, before = by_p.get(k, []), by_p.get(k - 1, [])
                    if not now or not before:
                        continue
                    n_now, n_before = periods[k].n_weeks, periods[k - 1].n_weeks
                    label = periods[k].label
                    scoped = out.within(label)
                    text = (
                        f"the {what} change limit (±{share_exact(c)} of the weekly rate in "
                        f"{periods[k - 1].label})"
                    )
                    for tag, sense, factor in (
                        ("change_up", "<=", 1 + c),
                        ("change_down", ">=", max(0.0, 1 - c)),
                    ):
                        co = {i: 1.0 / n_now for i in now}
                        for i in before:
                            co[i] = co.get(i, 0.0) - factor / n_before
                        scoped.row(
                            f"{prefix}_{tag}",
                            subject,
                            sense,
                            0.0,
                            co,
                            text,
                            bare=prefix == "period",
                        )


def _members(items: LineItems, prefix: str, subject: str, sc: Scenario) -> Sequence[int]:
    if prefix == "period":
        return items.all
    if prefix == "tp_period":
        return items.touchpoint(subject)
    if prefix == "stage_period":
        return items.stage(subject)
    return items.touchpoints(sc.groups[subject].members)


def _nested_conflicts(
    where: str, labels: Mapping[str, PeriodRule], cal: Calendar, per_period: PeriodRule | None
) -> list[str]:
    """Rules on nested labels (a month inside a quarter, a week inside a month) that cannot all
    hold, whatever the plan: a part's floor above the whole's cap, the parts' floors together
    above it, or the whole's floor above what its parts' caps allow."""
    problems = []
    ok = [lab for lab in labels if label_kind(lab) and cal.weeks_of(lab)]
    pairs = nested_pairs(ok)
    for coarse in dict.fromkeys(c for c, _ in pairs):
        fine = [f for c, f in pairs if c == coarse]
        C = labels[coarse]
        for f in fine:
            F = labels[f]
            if C.max is not None and F.min is not None and F.min > C.max + 1e-9:
                problems.append(
                    f"field '{where}periods.{f}.min': the floor in {f} ({money(F.min)}) is above "
                    f"the cap in {coarse} ({money(C.max)}), which {f} is part of"
                )
        # parts of one granularity only, so that they do not overlap
        for kind in ("month", "week"):
            parts = [f for f in fine if label_kind(f) == kind]
            if not parts:
                continue
            floors = sum(labels[f].min or 0.0 for f in parts)
            if C.max is not None and floors > C.max + 1e-9 and len(parts) > 1:
                problems.append(
                    f"field '{where}periods.{coarse}.max': the floors of "
                    f"{', '.join(parts)} ({money(floors)} together) are above the cap in "
                    f"{coarse} ({money(C.max)})"
                )
            covered = set().union(*(cal.weeks_of(f) for f in parts))
            if C.min is not None and covered == set(cal.weeks_of(coarse)):
                caps = [labels[f].max for f in parts]
                if all(v is not None for v in caps) and sum(caps) < C.min - 1e-9:  # type: ignore[arg-type]
                    problems.append(
                        f"field '{where}periods.{coarse}.min': the floor in {coarse} "
                        f"({money(C.min)}) is above the caps of {', '.join(parts)} "
                        f"({money(sum(caps))} together)"  # type: ignore[arg-type]
                    )
    if per_period is not None and per_period.max is not None:
        for lab, rule in labels.items():
            if (
                label_kind(lab) == cal.phasing
                and rule.min is not None
                and rule.min > per_period.max
            ):
                problems.append(
                    f"field '{where}periods.{lab}.min': the floor in {lab} ({money(rule.min)}) "
                    f"is above the per-period cap ({money(per_period.max)})"
                )
    return problems
