"""The priced moves of a line item of a plan on a calendar in words (``explain.phased``): the
next and the last increment and dropping it for the whole horizon, each worded for what the
objective holds fixed — the budget (max_kpi: the money is re-spent), the KPI target (min_spend:
priced in spend) or neither (max_net: priced in net value)."""

from __future__ import annotations

import dataclasses

from optimizer.allocate import Plan
from optimizer.explain.formatting import fmt_amount, fmt_delta, fmt_ratio
from optimizer.explain.types import Move


def carry_note(own_kpi: float, kpi_item: float) -> str:
    """The part of a line item's KPI that dropping it does not lose: its spend before the start."""
    if kpi_item + own_kpi > 0.5:  # as the table shows it: any whole unit kept says so
        return (
            f"; the other {fmt_amount(kpi_item + own_kpi)} of its {fmt_amount(kpi_item)} is the "
            "carry-over of its spend before the start, which still works"
        )
    return ""


def lost_as_shown(own_kpi: float | None, kpi_item: float, kpi_shown: float) -> float | None:
    """The KPI dropping a line item loses (``own_kpi``, negative) as the page shows it: its KPI
    as its table row shows it (``kpi_shown``, footed) less the carry-over it keeps (its KPI
    ``kpi_item`` plus ``own_kpi``, 0 without carry-over), in whole units, so that the
    sentence's "loses X" and "the other Y of its Z" read as the table's Z (a dropped line
    item's 281,996.20 read 281,996 in the sentence and 281,997 in the footed table)."""
    if own_kpi is None:
        return None
    return -(kpi_shown - round(kpi_item + own_kpi))


def min_spend_sentence(m: Move, key: str, kpi: str, ref: Plan, kpi_item: float, kind: str) -> Move:
    """A move of a min_spend plan in words: the KPI is held at the target, so a move is priced
    by the change in the plan's spend (``objective``: the re-solve's spend less the plan's)."""
    if m.own_kpi is None or m.objective is None:
        return m
    room = f" (setting aside {' and '.join(m.relaxed)})" if m.relaxed else ""
    d = fmt_delta(m.objective)
    pct = 100.0 * m.objective / ref.total_spend if ref.total_spend else 0.0
    if kind == "drop":
        text = (
            f"Meeting the target without {key} for the whole horizon{room} changes the plan's "
            f"spend by {d} ({'−' if pct < 0 else '+'}{abs(pct):.2f}%): it frees "
            f"{fmt_amount(m.amount)} but loses {fmt_amount(-m.own_kpi)} {kpi} on {key} "
            f"(carry-over included{carry_note(m.own_kpi, kpi_item)}), which the rest of the "
            f"plan (re-solved) makes up. That is what {key} is worth to the plan: the spend it "
            "saves in meeting the target."
        )
    elif m.direction == "up":
        text = (
            f"Forcing {fmt_amount(m.amount)} more into {key}{room} buys "
            f"{fmt_amount(m.own_kpi)} {kpi} on {key}; meeting the target at least cost with the "
            f"rest of the plan re-solved, the plan's spend changes by {d}: what the move costs."
        )
    else:
        text = (
            f"Cutting {fmt_amount(m.amount)} from {key}{room} loses {fmt_amount(-m.own_kpi)} "
            f"{kpi} on {key}; making it up elsewhere to meet the target (re-solved), the plan's "
            f"spend changes by {d}: what the move costs."
        )
    return dataclasses.replace(m, sentence=text)


def max_net_sentence(m: Move, key: str, kpi: str, kpi_item: float, kind: str) -> Move:
    """A move of a max_net plan in words: there is no budget, so no money is re-spent; a move is
    priced by the change in the plan's net value (``objective``: value × KPI less spend × (1 +
    hurdle_rate), the re-solve's less the plan's)."""
    if m.own_kpi is None or m.objective is None or m.total_kpi is None:
        return m
    room = f" (setting aside {' and '.join(m.relaxed)})" if m.relaxed else ""
    rest = fmt_delta(m.total_kpi - m.own_kpi)
    net = fmt_delta(m.objective)
    tail = (
        f"with the rest of the plan re-solved (its {kpi} there changes by {rest}; there is no "
        f"budget, so no money is moved to it), the plan's net value changes by {net}"
    )
    if kind == "drop":
        text = (
            f"Dropping {key} for the whole horizon{room} saves {fmt_amount(m.amount)} of spend "
            f"and loses {fmt_amount(-m.own_kpi)} {kpi} on {key} (carry-over included"
            f"{carry_note(m.own_kpi, kpi_item)}); {tail}. That is what {key} is worth to the "
            "plan."
        )
    elif m.direction == "up":
        text = (
            f"Adding {fmt_amount(m.amount)} to {key}{room} buys {fmt_amount(m.own_kpi)} {kpi} "
            f"on {key}; {tail}."
        )
    else:
        text = (
            f"Cutting {fmt_amount(m.amount)} from {key}{room} loses {fmt_amount(-m.own_kpi)} "
            f"{kpi} on {key}; {tail}."
        )
    return dataclasses.replace(m, sentence=text)


def value_sentence(m: Move, key: str, kpi: str, obj_word: str, naive: float, price: float) -> Move:
    """A move of an undated max_net or max_value plan in words, priced in the objective (net
    value, or the value of the scenario's ``kpi_values``): the line item's own KPI says what it
    buys, but a move is worth its change in the objective (``objective``: the re-solve's less the
    plan's), not in the KPI (a max_net plan whose budget does not bind moves no money from the
    rest of the plan: the KPI would count the money's cost as nothing). ``naive``: the curve-only
    change in the objective, each dollar costing ``price`` (the objective's price of a dollar)."""
    if m.own_kpi is None or m.objective is None or m.total_kpi is None:
        return m
    room = f" (setting aside {' and '.join(m.relaxed)})" if m.relaxed else ""
    tail = (
        f"with the rest of the plan re-solved (its {kpi} there changes by "
        f"{fmt_delta(m.total_kpi - m.own_kpi)}), the plan's {obj_word} changes by "
        f"{fmt_delta(m.objective)} (the curve alone, each dollar costing {fmt_ratio(price)}, "
        f"would say {fmt_delta(naive)})"
    )
    if m.direction == "up":
        text = (
            f"Adding {fmt_amount(m.amount)} to {key}{room} would buy {fmt_amount(m.own_kpi)} "
            f"{kpi} on {key}; {tail}."
        )
    else:
        text = (
            f"Cutting {fmt_amount(m.amount)} from {key}{room} would lose "
            f"{fmt_amount(-m.own_kpi)} {kpi} on {key}; {tail}."
        )
    return dataclasses.replace(m, naive_net=float(naive), sentence=text)


def drop_sentence(m: Move, key: str, kpi: str, ref: Plan, kpi_item: float) -> str:
    """The cost of dropping a line item for the whole horizon, in words."""
    if m.total_kpi is None or m.own_kpi is None:
        return m.sentence
    rest = m.total_kpi - m.own_kpi
    room = f" (setting aside {' and '.join(m.relaxed)})" if m.relaxed else ""
    pct = 100.0 * m.total_kpi / ref.total_kpi if ref.total_kpi else 0.0
    return (
        f"Dropping {key} for the whole horizon{room} frees {fmt_amount(m.amount)}; it loses "
        f"{fmt_amount(-m.own_kpi)} {kpi} on {key} (carry-over included"
        + carry_note(m.own_kpi, kpi_item)
        + "), and re-spending the "
        f"money on the rest of the plan (re-solved) earns {fmt_delta(rest)} there: the plan's "
        f"{kpi} changes by {fmt_delta(m.total_kpi)} ({'−' if pct < 0 else '+'}{abs(pct):.2f}%). "
        f"That is what {key} is worth "
        f"to the plan, beyond what its money would buy elsewhere."
    )


__all__ = [
    "carry_note",
    "drop_sentence",
    "lost_as_shown",
    "max_net_sentence",
    "min_spend_sentence",
    "value_sentence",
]
