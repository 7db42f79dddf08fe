"""Regenerate docs/review.md: the worked budget review of the sample company, every number from
the commands the page shows, none typed by hand.

    python scripts/review_doc.py            # writes docs/review.md
    python scripts/review_doc.py -o FILE    # writes FILE (tests/test_docs_current.py compares)

It runs, in a temporary folder, the page's commands (``budgetopt demo``, last quarter's spend from
the sample history, ``budgetopt explain … --format json`` of the base and the commitments
scenarios and of the year by month), then fills ``scripts/review_doc.md.in``: its prose is written by hand and holds no
number; every quoted sentence, table and number comes from the explanations' JSON. The questions
pick their line items from the plan (the largest line item at the hurdle, the largest cut against
last quarter, …), so the page stays true when the model or the engine changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_suffix(".md.in")
sys.path.insert(0, str(ROOT))

from optimizer.explain.types import Ladder, LadderStep  # noqa: E402
from optimizer.formatting import delta, footed, money, ratio, shown  # noqa: E402
from optimizer.render.footing import shown_ladder  # noqa: E402

WIDTH = 100


def budgetopt(*args: str, cwd: Path) -> None:
    env = {**os.environ, "BUDGETOPT_LEDGER": str(cwd / "ledger.sqlite"), "COLUMNS": "100"}
    r = subprocess.run(
        [sys.executable, "-m", "optimizer", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if r.returncode != 0:
        raise SystemExit(f"budgetopt {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")


def quote(*sentences: str) -> str:
    """Sentences of the pack as a Markdown block quote, wrapped at the page's width."""
    paras = [
        textwrap.fill(s, WIDTH - 2, break_on_hyphens=False, break_long_words=False)
        for s in sentences
        if s
    ]
    return "\n>\n".join("\n".join("> " + line for line in p.splitlines()) for p in paras)


def para(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), WIDTH, break_on_hyphens=False)


def run(work: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    budgetopt("demo", "--out", "northwind", "-q", cwd=work)
    import pandas as pd

    from optimizer.sample import history_path

    h = pd.read_csv(history_path()).tail(13)
    last = h.drop(columns=["date", "revenue", "price_index"]).sum().round().rename("spend")
    last.rename_axis("id").reset_index().to_csv(
        work / "northwind" / "last_quarter.csv", index=False
    )
    budgetopt(
        "explain",
        "northwind/scenarios/base.yaml",
        "-o",
        "northwind/review.json",
        "--last-cycle",
        "northwind/last_quarter.csv",
        cwd=work,
    )
    budgetopt(
        "explain",
        "northwind/scenarios/commitments.yaml",
        "-o",
        "northwind/commitments.json",
        "--last-cycle",
        "northwind/last_quarter.csv",
        "--sweep-points",
        "0",
        cwd=work,
    )
    budgetopt(
        "explain",
        "northwind/scenarios/fy26_monthly.yaml",
        "-o",
        "northwind/fy26.json",
        "--sweep-points",
        "11",
        cwd=work,
    )
    base = json.loads((work / "northwind" / "review.json").read_text())
    commit = json.loads((work / "northwind" / "commitments.json").read_text())
    phased = json.loads((work / "northwind" / "fy26.json").read_text())
    return base, commit, phased


# ------------------------------------------------------------------------------------------------
# the generated parts
# ------------------------------------------------------------------------------------------------
def mix(d: dict[str, Any]) -> str:
    moves = sorted((i for i in d["items"] if i.get("delta") is not None), key=lambda i: i["delta"])
    ups = [f"{i['id']} {delta(i['delta'], '−')}" for i in moves[::-1][:3] if i["delta"] > 0]
    downs = [f"{i['id']} {delta(i['delta'], '−')}" for i in moves[:3] if i["delta"] < 0]
    return para(
        f"Against last quarter ({money(d['last_cycle_total'])}) the largest moves are "
        f"{', '.join(ups)} up and {', '.join(downs)} down."
    )


def _item(d: dict[str, Any], tid: str) -> dict[str, Any]:
    return next(i for i in d["items"] if i["id"] == tid)


def q_not_higher(d: dict[str, Any]) -> str:
    interior = [i for i in d["items"] if i["role"] == "interior"]
    it = max(interior, key=lambda i: i["spend"])
    nxt, pos = it["next"], it["position"]
    lines = [
        f'### "Why is {it["id"]} not higher?"',
        "",
        "The largest line item at the hurdle. From its section of the pack:",
        "",
        quote(it["reason"], "**Next increment:** " + nxt["sentence"]),
        "",
        para(
            f"So {money(nxt['amount'])} more on {it['id']} buys {money(nxt['own_kpi'])} of "
            f"{d['kpi']} there, but the money has to come from somewhere: re-solved, the plan "
            f"changes by {delta(nxt['total_kpi'], '−')}. The re-solved number is the honest one; "
            "the naive one (the curve against a fixed hurdle) leaves out that the other line "
            "items' returns rise as they are cut."
        ),
        "",
        quote(it["role_range"]["sentence"], pos["sentence"]),
    ]
    return "\n".join(lines)


def q_cut(d: dict[str, Any]) -> str:
    interior = sorted((i for i in d["items"] if i["role"] == "interior"), key=lambda i: -i["spend"])
    it = interior[1] if len(interior) > 1 else interior[0]
    last = it["last"]
    return "\n".join(
        [
            f'### "What do we lose if {it["id"]} is cut?"',
            "",
            para(
                f"{it['id']}'s plan spend is {money(it['spend'])}. The pack prices a cut of a "
                f"tenth ({money(last['amount'])}); `--increment` prices any other size:"
            ),
            "",
            quote(last["sentence"]),
        ]
    )


def ladder_as_shown(lad: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    """The ladder as the pack shows it (``render.footing.shown_ladder``, with the line items'
    amounts as the pack's line-item table shows them): whole units that foot."""
    fields = {f.name for f in dataclasses.fields(LadderStep)}
    keep = {f.name for f in dataclasses.fields(Ladder)} - {"steps", "blocked"}

    def steps(xs: list[dict[str, Any]]) -> tuple[LadderStep, ...]:
        return tuple(LadderStep(**{k: v for k, v in x.items() if k in fields}) for x in xs)

    ladder = Ladder(
        steps=steps(lad["steps"]),
        blocked=steps(lad["blocked"]),
        **{k: v for k, v in lad.items() if k in keep},
    )
    spends = {it["id"]: it["spend"] for it in d["items"]}  # as shown (as_shown)
    return dataclasses.asdict(shown_ladder(ladder, spends))


def as_shown(d: dict[str, Any]) -> dict[str, Any]:
    """An explanation's JSON with the amounts the pack shows (``render.footing.shown_review``):
    the line items' spend, KPI and last cycle in whole units that foot, each change the
    difference of the two, and the ladder as shown."""
    d = {**d, "items": [dict(it) for it in d["items"]]}
    items = d["items"]
    for key, total in (("spend", "total_spend"), ("kpi", "total_kpi")):
        for it, v in zip(items, footed((it[key] for it in items), d[total]), strict=True):
            it[key] = v
    if d.get("last_cycle_total") is not None and all(it["last_cycle"] is not None for it in items):
        lasts = footed((it["last_cycle"] for it in items), d["last_cycle_total"])
        for it, v in zip(items, lasts, strict=True):
            it["last_cycle"], it["delta"] = v, it["spend"] - v
    d["ladder"] = ladder_as_shown(d["ladder"], d)
    return d


def q_ladder(d: dict[str, Any]) -> str:
    lad = d["ladder"]
    steps, cut = lad["steps"], lad["cutoff"]
    rows = [s for s in steps if cut - 4 <= s["rank"] <= cut + 3]
    table = [
        "| rank | line item | increment | amount | " + d["kpi"] + " | return | cumulative spend |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for s in rows:
        table.append(
            f"| {s['rank']} | {s['item']} | {money(s['spend_from'])} – {money(s['spend_to'])} | "
            f"{money(s['amount'])} | {money(s['kpi_gain'])} | {ratio(s['return_'])} | "
            f"{money(s['cumulative_spend'])} |"
        )
        if s["rank"] == cut:
            table.append(
                f"| | **the budget runs out here: {money(lad['line_spend'])}** | | | | | |"
            )
    blocked: dict[str, dict[str, Any]] = {}
    for b in lad["blocked"]:
        blocked.setdefault(b["item"], b)
    kept = "; ".join(
        f"{b['item']} beyond {money(b['spend_from'])} (returns {ratio(b['return_'])}, held by "
        f"{b['reason']})"
        for b in blocked.values()
    )
    out = [
        '### "Which dollars are the last ones in?"',
        "",
        para(
            "The ladder cuts every line item's spend into ten increments (decision packages), "
            f"prices each on its curve, and ranks all of them across the plan by {d['kpi']} per "
            f"unit of money. The budget runs out after increment {cut} of {len(steps)}:"
        ),
        "",
        *table,
        "",
        para(
            f"Every increment above the line returns at least the hurdle ({ratio(lad['hurdle'])}), "
            "every one below less: the last one in is the first to cut if the budget shrinks, "
            "the first one out the first in if it grows."
        ),
    ]
    if kept:
        out += [
            "",
            para(
                f"Kept out by a rule, whatever they return: {kept}. Each one's return against "
                "the hurdle says what its rule costs."
            ),
        ]
    return "\n".join(out)


def q_biggest_cut(d: dict[str, Any]) -> str:
    it = min((i for i in d["items"] if i.get("delta") is not None), key=lambda i: i["delta"])
    return "\n".join(
        [
            f'### "{it["id"]} got {money(it["last_cycle"])} last quarter. Why '
            f'{money(it["spend"])} now?"',
            "",
            para("The biggest cut against last quarter. From its section of the pack:"),
            "",
            quote(it["reason"], "**Over budgets:** " + it["role_range"]["sentence"]),
        ]
    )


def q_caps(d: dict[str, Any]) -> str:
    caps = [c for c in d["constraints"] if c["binding"] and c["name"] != "budget"]
    slack = [c for c in d["constraints"] if not c["binding"] and c["kind"] != "budget"][:1]
    budget = next(c for c in d["constraints"] if c["name"] == "budget")
    return "\n".join(
        [
            '### "What are the caps costing us?"',
            "",
            "From the constraint report (each claim re-solved with the constraint moved):",
            "",
            quote(" ".join(c["sentence"] for c in caps + slack)),
            "",
            "And the budget itself:",
            "",
            quote(budget["sentence"]),
        ]
    )


def q_commitments(d: dict[str, Any], c: dict[str, Any]) -> str:
    held = [i for i in c["items"] if i["role"] in ("held_up", "not_worth_minimum")]
    quotes = []
    for it in held:
        quotes.append(it["reason"])
        if it["role"] == "held_up" and it.get("last"):
            quotes.append(it["last"]["sentence"])
    zero_cost = [
        k["sentence"]
        for k in c["constraints"]
        if k["binding"] and k["kind"] == "tp_lock" and "costs nothing" in (k["sentence"] or "")
    ]
    diff = shown(c["total_kpi"]) - shown(d["total_kpi"])  # as the page shows both: it foots
    return "\n".join(
        [
            '### "What do the commitments cost?"',
            "",
            para(
                "The `commitments` scenario locks the TV upfront and the loyalty contract, and "
                "buys radio only in packages of a minimum size:"
            ),
            "",
            "```bash",
            "budgetopt explain northwind/scenarios/commitments.yaml -o northwind/commitments.md "
            "--last-cycle northwind/last_quarter.csv --sweep-points 0",
            "```",
            "",
            quote(*quotes, *zero_cost),
            "",
            para(
                f"With the commitments the plan buys {money(c['total_kpi'])} {c['kpi']}, "
                f"{money(abs(diff))} {'less' if diff < 0 else 'more'} than the base plan."
            ),
        ]
    )


def phased_review(p: dict[str, Any]) -> str:
    """The review of the year by month (``explain fy26_monthly.yaml``): the table of line items,
    the one whose drop costs most, explained, and the ladder's lead."""
    e, plan = p["explanation"], p["plan"]
    kpi = e["kpi"]
    rows = [
        f"| line item | role | spend | {kpi} | next dollar returns | dropping it |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for it in e["items"]:
        lo, hi = it["marginal_min"], it["marginal_max"]
        nxt = (
            "–" if lo is None else ratio(lo) if abs(hi - lo) < 5e-4 else f"{ratio(lo)}–{ratio(hi)}"
        )
        drop = "–" if it["drop"] is None else delta(it["drop"]["total_kpi"], "−")
        role = {"interior": "at the hurdle", "held_up": "held up", "unfunded": "not funded"}.get(
            it["role"], it["role"]
        )
        rows.append(
            f"| {it['id']} | {role} | {money(it['spend'])} | {money(it['kpi'])} | {nxt} | {drop} |"
        )
    funded = [i for i in e["items"] if i["drop"] is not None and i["drop"]["total_kpi"] is not None]
    worst = min(funded, key=lambda i: i["drop"]["total_kpi"])
    mixed = [i for i in e["items"] if i["role"] == "capped" and len(i["rules"]) and any(
        pr["status"] == "at the hurdle" for pr in i["periods"])]  # fmt: skip
    lad = e["ladder"]
    out = [
        "```bash",
        "budgetopt explain northwind/scenarios/fy26_monthly.yaml -o northwind/fy26.html --sweep-points 11",
        "```",
        "",
        para(
            f"{money(plan['total_spend'])} over {plan['horizon_weeks']} weeks from "
            f"{plan['start']}, decided by {e['phasing']}. The review re-solves the plan "
            f"{e['n_solves']} times: three times per funded line item (up and down by a tenth, "
            "and to zero for the whole horizon), once per unfunded one, and the sweep of budgets "
            "for the role ranges."
        ),
        "",
        *rows,
        "",
        para(f"Dropping {worst['id']} would cost the most. From its section of the pack:"),
        "",
        quote(
            worst["reason"],
            "**Dropping it:** " + worst["drop"]["sentence"],
            "**Over budgets:** " + worst["role_range"]["sentence"] if worst["role_range"] else "",
        ),
    ]
    if mixed:
        it = max(mixed, key=lambda i: i["spend"])
        out += [
            "",
            para(f"A line item whose role differs by {e['phasing']}, {it['id']}:"),
            "",
            quote(it["reason"]),
        ]
    out += [
        "",
        para(
            f"The ladder cuts each line item's plan into ten increments of its phasing; the "
            f"budget runs out after increment {lad['cutoff']} of {len(lad['steps'])}"
            + (
                f", and {money(sum(i['below_break_even'] or 0 for i in e['items']))} of the "
                f"funded increments return less than break-even ({e['break_even']:.2f})."
                if e["break_even"] is not None
                else "."
            )
        ),
    ]
    return "\n".join(out)


def render(d: dict[str, Any], c: dict[str, Any], p: dict[str, Any]) -> str:
    d = as_shown(d)  # the amounts as the pack shows them
    be = [s for s in d["headline"] if s.startswith("Break-even")]
    parts = {
        "generated": para(
            "The page is generated: `python scripts/review_doc.py` runs these commands and "
            "writes it, and `tests/test_docs_current.py` checks that it is current."
        ),
        "n_solves": str(d["n_solves"]),
        "headline": quote(" ".join(s for s in d["headline"] if not s.startswith("Break-even"))),
        "mix": mix(d),
        "break_even": quote(*be) if be else "(the KPI has no money value here)",
        "questions": "\n\n".join(
            [q_not_higher(d), q_cut(d), q_ladder(d), q_biggest_cut(d), q_caps(d)]
            + [q_commitments(d, c)]
        ),
        "phased": phased_review(p),
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for k, v in parts.items():
        text = text.replace("{{" + k + "}}", v)
    if "{{" in text:
        raise SystemExit("review_doc.md.in has a placeholder the script does not fill")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "review.md")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, commit, phased = run(Path(tmp))
    a.output.write_text(render(base, commit, phased), encoding="utf-8")
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
