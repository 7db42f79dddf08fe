"""Random input files for the CLI — valid, extreme and broken — and the checks on its answer.

Shared by ``tests/test_fuzz.py`` (a few hundred cases in CI) and ``benchmarks/fuzz.py`` (10,000).
A case is made from one integer seed (``random.Random(seed)``), so any failure is reproduced by
its seed. What is checked, whatever the input:

- the exit code is 0 (success), 2 (bad input), 3 (infeasible) or 4 (a plan not certified within
  the tolerance), and nothing else; never a traceback, an "internal error" or a numpy warning;
- on exit 0 or 4 of ``optimize --format json``: every rule of the scenario holds on the plan as
  written (to the cent: float noise of 1e-6 only), line items are whole cents, and the status
  matches the gap (``optimal`` ⇒ gap ≤ tolerance; exit 4 ⇔ ``not_certified``).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ALLOWED_EXIT = {0, 2, 3, 4}
STAGES = ["awareness", "consideration", "decision", "purchase", "loyalty"]
NOISE = 1e-6
TOLERANCE = 1e-4


@dataclass
class Case:
    seed: int
    kind: str  # valid | extreme | broken
    command: list[str]  # the CLI arguments (file names relative to the case folder)
    files: dict[str, str]  # name → text
    scenario: dict[str, Any] | None = None  # the scenario as written (None when not YAML-valid)
    tolerance: float = TOLERANCE
    notes: list[str] = field(default_factory=list)

    def write(self, root: Path) -> list[str]:
        root.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (root / name).write_text(text, encoding="utf-8")
        return [str(root / a) if a in self.files else a for a in self.command]


# ---- models ---------------------------------------------------------------------------------
def _curve(r: random.Random, extreme: bool) -> dict[str, Any]:
    fam = r.choice(["hill", "hill", "exponential", "logistic"])
    if extreme:
        beta = r.choice([1e-6, 1.0, 1e12, 1e15, 10 ** r.uniform(0, 15)])
    else:
        beta = 10 ** r.uniform(3, 6)
    if fam == "hill":
        shape = r.choice([0.1, 10.0, r.uniform(0.1, 10)]) if extreme else r.uniform(0.3, 3.0)
        k = r.choice([1e-6, 1e15, 10 ** r.uniform(-6, 15)]) if extreme else 10 ** r.uniform(3, 6)
        return {"family": "hill", "beta": beta, "half_saturation": k, "shape": shape}
    if fam == "exponential":
        s = r.choice([1e-6, 1e15, 10 ** r.uniform(-6, 15)]) if extreme else 10 ** r.uniform(3, 6)
        return {"family": "exponential", "beta": beta, "scale": s}
    lam = r.choice([1e-12, 1e3, 10 ** r.uniform(-12, 3)]) if extreme else 10 ** r.uniform(-6, -3)
    return {"family": "logistic", "beta": beta, "lam": lam}


def make_model(r: random.Random, ids: list[str], extreme: bool = False) -> dict[str, Any]:
    tps = {}
    for i, t in enumerate(ids):
        tp: dict[str, Any] = {"stage": STAGES[i % len(STAGES)], "curve": _curve(r, extreme)}
        if r.random() < 0.8:
            decay = r.choice([0.0, 0.99, r.uniform(0, 0.99)]) if extreme else r.uniform(0, 0.8)
            tp["adstock"] = {"family": "geometric", "decay": decay}
            if r.random() < 0.2:
                tp["adstock"]["normalize"] = True
        tps[t] = tp
    return {"kpi": "revenue", "period": "week", "touchpoints": tps}


# ---- scenarios ------------------------------------------------------------------------------
def _money(r: random.Random, scale: float, extreme: bool) -> float:
    if extreme and r.random() < 0.3:
        return r.choice([0.0, 0.01, 1e12, 999_999_999_999.99, 5_000_000.0])
    v = scale * r.uniform(0, 1)
    return round(v, r.choice([0, 2, -3]))


def make_scenario(r: random.Random, ids: list[str], extreme: bool = False) -> dict[str, Any]:
    scale = 10 ** r.uniform(3, 8) if not extreme else 10 ** r.uniform(-2, 12)
    scale = min(scale, 1e12)
    sc: dict[str, Any] = {"name": f"fuzz {r.randrange(10**6)}", "model": "model.json"}
    sc["horizon_weeks"] = r.choice([1, 4, 13, 26, 52]) if not extreme else r.choice([1, 520])
    b = _money(r, scale, extreme)
    sc["budget"] = {"exactly": b} if r.random() < 0.15 else b
    tps: dict[str, Any] = {}
    for t in ids:
        u = r.random()
        if u < 0.5:
            continue
        kind = r.choice(["min", "max", "both", "lock", "min_if_funded", "block"])
        if kind == "both":
            lo, hi = sorted([_money(r, scale / 4, extreme), _money(r, scale / 2, extreme)])
            tps[t] = {"min": lo, "max": hi}
        elif kind == "block":
            tps[t] = {"block": max(0.01, _money(r, scale / 8, extreme))}
        else:
            tps[t] = {kind: _money(r, scale / 3, extreme)}
    if tps:
        sc["touchpoints"] = tps
    stages = {}
    used = [STAGES[i % len(STAGES)] for i in range(len(ids))]
    for s in used if not extreme else STAGES[:3]:
        kind = r.choice(["none", "none", "min", "max", "min_share", "max_share"])
        if kind in ("min", "max"):
            stages[s] = {kind: _money(r, scale / 3, extreme)}
        elif kind != "none":
            stages[s] = {kind: round(r.uniform(0, 1), 2)}
    if stages:
        sc["stages"] = stages
    if len(ids) >= 2 and r.random() < 0.3:
        members = r.sample(ids, 2)
        key = r.choice(["max", "min", "max_share", "min_share"])
        val = _money(r, scale / 2, extreme) if "share" not in key else round(r.uniform(0, 1), 2)
        sc["groups"] = {"g": {"members": members, key: val}}
    return sc


# ---- breaking things ------------------------------------------------------------------------
BAD_NUMBERS: list[Any] = [
    float("nan"),
    float("inf"),
    -float("inf"),
    -1,
    -0.01,
    1e308,
    1e13,
    "lots",
    None,
    True,
    [],
    {},
    ".nan",
]


def _set_random_leaf(r: random.Random, obj: Any, value: Any) -> None:
    """Replace one number somewhere in ``obj`` (a dict tree) with ``value``."""
    paths: list[tuple[Any, Any]] = []

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    paths.append((o, k))
                else:
                    walk(v)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    paths.append((o, i))
                else:
                    walk(v)

    walk(obj)
    if paths:
        o, k = r.choice(paths)
        o[k] = value


def _yaml(obj: Any) -> str:
    text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
    return text.replace(".nan", ".nan").replace(".inf", ".inf")


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=1, allow_nan=True)


def _break_text(r: random.Random, text: str, kind: str) -> str:
    how = r.choice(["truncate", "garbage", "empty", "duplicate", "bomb", "binary", "tab"])
    if how == "truncate":
        return text[: r.randrange(max(1, len(text)))]
    if how == "garbage":
        i = r.randrange(max(1, len(text)))
        return text[:i] + r.choice(["}{", ":::", "- - -", "\x00", "&a *b", '"', "]["]) + text[i:]
    if how == "empty":
        return r.choice(["", "\n", "   ", "null", "[]", "42"])
    if how == "duplicate":
        lines = text.splitlines()
        if kind == "yaml" and lines:
            i = r.randrange(len(lines))
            return "\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :]) + "\n"
        return text.replace('"touchpoints": {', '"kpi": "x", "touchpoints": {', 1).replace(
            '"kpi": "revenue"', '"kpi": "revenue", "kpi": "orders"', 1
        )
    if how == "bomb":
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for k in range(1, 9):
            lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]")
        return "\n".join(lines) + "\nname: *a8\n" if kind == "yaml" else text
    if how == "binary":
        return "".join(chr(r.randrange(1, 255)) for _ in range(r.randrange(1, 200)))
    return text.replace("  ", "\t", 1)


# ---- history --------------------------------------------------------------------------------
def make_history(r: random.Random, ids: list[str], kind: str) -> tuple[str, str]:
    weeks = r.choice([3, 20, 60])
    journey = {"kpi": "revenue", "touchpoints": [{"id": t, "stage": "awareness"} for t in ids]}
    rows = ["date," + ",".join(ids) + ",revenue"]
    import datetime as dt

    d0 = dt.date(2024, 1, 1)
    for w in range(weeks):
        vals = [f"{r.uniform(0, 1e5):.2f}" for _ in ids] + [f"{r.uniform(1e5, 1e6):.2f}"]
        rows.append((d0 + dt.timedelta(weeks=w)).isoformat() + "," + ",".join(vals))
    if kind != "valid":
        i = r.randrange(1, len(rows))
        cells = rows[i].split(",")
        j = r.randrange(len(cells))
        cells[j] = r.choice(["nan", "inf", "-5", "1e308", "", "x", "2024-13-45", "1e13"])
        rows[i] = ",".join(cells)
        if r.random() < 0.2:
            rows.insert(i, rows[i])  # a week twice
    return _yaml(journey), "\n".join(rows) + "\n"


# ---- a case ---------------------------------------------------------------------------------
def make_case(seed: int) -> Case:
    r = random.Random(seed)
    kind = r.choices(["valid", "extreme", "broken"], weights=[5, 2, 3])[0]
    n = r.randint(1, 4)
    ids = [
        r.choice(["tv", "search", "email", "radio", "=cmd", "a-b", "a_b", "x"]) + str(i)
        for i in range(n)
    ]
    if r.random() < 0.1:
        ids = [f"t{i}" for i in range(n)]
    target = r.choices(["optimize", "validate", "history"], weights=[7, 2, 1])[0]
    model = make_model(r, ids, extreme=kind == "extreme")
    sc = make_scenario(r, ids, extreme=kind == "extreme")
    tol = TOLERANCE
    files: dict[str, str] = {}
    if target == "history":
        journey, history = make_history(r, ids, kind)
        files = {"journey.yaml": journey, "history.csv": history}
        return Case(seed, kind, ["validate", "history.csv", "--journey", "journey.yaml"], files)
    scenario_obj: dict[str, Any] | None = sc
    if kind == "broken":
        what = r.choice(["scenario_value", "model_value", "scenario_text", "model_text", "option"])
        if what == "scenario_value":
            _set_random_leaf(r, sc, r.choice(BAD_NUMBERS))
            scenario_obj = None
        elif what == "model_value":
            _set_random_leaf(r, model, r.choice(BAD_NUMBERS))
        files["model.json"] = _json(model)
        files["scenario.yaml"] = _yaml(sc)
        if what == "scenario_text":
            files["scenario.yaml"] = _break_text(r, files["scenario.yaml"], "yaml")
            scenario_obj = None
        elif what == "model_text":
            files["model.json"] = _break_text(r, files["model.json"], "json")
    else:
        files["model.json"] = _json(model)
        files["scenario.yaml"] = _yaml(sc)
    cmd = [target, "scenario.yaml"]
    if target == "optimize":
        cmd += ["--format", "json", "--no-ledger", "-q"]
        if r.random() < 0.5:
            cmd += ["--time-limit", "30"]  # bounded; the last --time-limit given wins
        if kind != "valid" and r.random() < 0.3:
            opt = r.choice(["--tolerance", "--time-limit"])
            val = r.choice(["nan", "inf", "-1", "0", "1e-12", "0.5", "x", "1e308"])
            cmd += [opt, val]
            if opt == "--tolerance":
                try:
                    tol = float(val)
                except ValueError:
                    tol = TOLERANCE
        elif r.random() < 0.2:
            tol = r.choice([1e-3, 1e-5])
            cmd += ["--tolerance", str(tol)]
    return Case(seed, kind, cmd, files, scenario_obj, tol)


# ---- checking an answer ---------------------------------------------------------------------
def check_answer(case: Case, code: int, out: str, err: str) -> list[str]:
    """Every problem with the CLI's answer to ``case`` (empty when it is right)."""
    problems = []
    text = out + err
    if code not in ALLOWED_EXIT:
        problems.append(f"exit code {code}")
    for bad in ("Traceback", "internal error", "RuntimeWarning", "Warning: ", "overflow"):
        if bad in text:
            problems.append(f"{bad!r} in the output")
    if len(err) > 20_000:
        problems.append(f"stderr of {len(err)} characters")
    if case.command[0] == "optimize" and code in (0, 4) and case.scenario is not None:
        try:
            plan = json.loads(out)
        except json.JSONDecodeError as e:
            return [*problems, f"stdout is not JSON: {e}"]
        problems += check_plan(case.scenario, plan, code, case.tolerance)
    return problems


def check_plan(sc: dict[str, Any], plan: dict[str, Any], code: int, tolerance: float) -> list[str]:
    problems = []
    status, gap = plan.get("status"), plan.get("gap")
    if code == 4 and status != "not_certified":
        problems.append(f"exit 4 with status {status}")
    if code == 0 and status not in ("optimal", "time_limit"):
        problems.append(f"exit 0 with status {status}")
    if status == "optimal" and not (gap is not None and gap <= tolerance):
        problems.append(f"status optimal with gap {gap} above the tolerance {tolerance}")
    spend: dict[str, float] = {}
    for li in plan.get("line_items", []):
        s = float(li["spend"])
        spend[li["id"]] = spend.get(li["id"], 0.0) + s
        # whole cents: the float is the nearest one to its 2-decimal value (s * 100 is off by
        # up to 0.004 at 3e11 from float rounding alone, so it cannot be compared with a whole)
        if round(s, 2) != s or s < 0:
            problems.append(f"line item {li['id']} spend {s} is not whole cents")
    stage_of = {li["id"]: li["stage"] for li in plan.get("line_items", [])}
    total = sum(spend.values())
    # the total in whole cents, added exactly: a float sum of line items of 1e12 is off by 1e-4
    # (seed 6556: 1000000000000.0001 "over" a budget of 1e12 it meets to the cent)
    total_cents = sum(round(v * 100) for v in spend.values())

    def need(ok: bool, what: str, lhs: float, rhs: float) -> None:
        if not ok:
            problems.append(f"{what}: {lhs!r} against {rhs!r}")

    b = sc.get("budget")
    if isinstance(b, dict) and "exactly" in b:
        need(abs(total - b["exactly"]) <= 0.005 + NOISE, "budget exactly", total, b["exactly"])
    elif isinstance(b, (int, float)):
        need(total_cents <= round(b * 100, 6) + 1e-6, "budget", total, b)
    for t, rule in (sc.get("touchpoints") or {}).items():
        x = spend.get(t, 0.0)
        if "min" in rule:
            need(x >= rule["min"] - NOISE, f"{t} min", x, rule["min"])
        if "max" in rule:
            need(x <= rule["max"] + NOISE, f"{t} max", x, rule["max"])
        if "lock" in rule:
            need(abs(x - rule["lock"]) <= NOISE, f"{t} lock", x, rule["lock"])
        if "min_if_funded" in rule and x > 0:
            need(x >= rule["min_if_funded"] - NOISE, f"{t} min_if_funded", x, rule["min_if_funded"])
        if "block" in rule and rule["block"] > 0:
            k = x / rule["block"]
            need(abs(k - round(k)) <= 1e-6 * max(1.0, k), f"{t} block", x, rule["block"])
    groups = {s: [t for t in spend if stage_of[t] == s] for s in (sc.get("stages") or {})}
    rules = dict(sc.get("stages") or {})
    for g, rule in (sc.get("groups") or {}).items():
        groups["group " + g] = list(rule["members"])
        rules["group " + g] = rule
    for g, members in groups.items():
        rule = rules[g]
        x = sum(spend.get(t, 0.0) for t in members)
        if "min" in rule:
            need(x >= rule["min"] - NOISE, f"{g} min", x, rule["min"])
        if "max" in rule:
            need(x <= rule["max"] + NOISE, f"{g} max", x, rule["max"])
        if "min_share" in rule:
            need(x >= rule["min_share"] * total - NOISE * (1 + total), f"{g} min_share", x, total)
        if "max_share" in rule:
            need(x <= rule["max_share"] * total + NOISE * (1 + total), f"{g} max_share", x, total)
    for v in (plan.get("total_spend"), plan.get("total_kpi")):
        if v is not None and not math.isfinite(float(v)):
            problems.append(f"a non-finite total {v}")
    return problems
