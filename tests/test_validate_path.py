"""``budgetopt validate`` applies exactly the checks ``optimize``, ``replan`` and ``fit`` apply
(issue 14 item 9: one validation path).

For each input below — bad ones taken from the audit (tests/test_hostile_input.py, the rules'
own errors) and good ones — the test runs ``validate`` and the command that takes the file, and
checks: ``validate`` exits 2 if and only if the command refuses the file on input grounds (exit
2), and then with the same message. A command that goes on to solve (exit 0, 3 infeasible, 4 not
certified) or to fit means ``validate`` must have passed the file (exit 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import optimizer.app.fitting as fitting
from optimizer.cli import cli

MODEL = {
    "kpi": "revenue",
    "period": "week",
    "touchpoints": {
        "tv": {
            "stage": "awareness",
            "curve": {"family": "hill", "beta": 400000.0, "half_saturation": 90000.0, "shape": 1.2},
            "adstock": {"family": "geometric", "decay": 0.5},
        },
        "search": {
            "stage": "consideration",
            "curve": {"family": "exponential", "beta": 300000.0, "scale": 60000.0},
        },
        "email": {
            "stage": "loyalty",
            "curve": {"family": "logistic", "beta": 90000.0, "lam": 0.00005},
        },
    },
}

BASE = "name: s\nmodel: model.json\nhorizon_weeks: 13\n"

#: scenario text after BASE → what it tests
SCENARIOS = {
    "valid": "budget: 300000\n",
    "valid, with rules": "budget: 300000\ntouchpoints: {tv: {max: 100000}}\n"
    "stages: {awareness: {min_share: 0.1}}\n",
    "infeasible (a rule set, not an input error)": "budget: 100000\n"
    "touchpoints: {tv: {min: 80000}, search: {min: 80000}}\n",
    "a key twice": "budget: 300000\nbudget: 400000\n",
    "nan budget": "budget: .nan\n",
    "a budget out of range": "budget: 1.0e+308\n",
    "an unknown touchpoint": "budget: 300000\ntouchpoints: {tvv: {max: 5}}\n",
    "an unknown stage": "budget: 300000\nstages: {awarenes: {max: 5}}\n",
    "a stage no touchpoint is in": "budget: 300000\nstages: {purchase: {min: 5}}\n",
    "a KPI floor on a KPI no model has": "budget: 300000\nkpi_floors: {leads: 100}\n",
    "market rules on one market's model": "budget: 300000\nmarkets: {north: {max: 5}}\n",
    "a change limit without previous": "budget: 300000\nmax_change: 0.2\n",
    "a group of unknown members": "budget: 300000\ngroups: {g: {members: [tv, radio], max: 5}}\n",
    "a model that does not exist": "budget: 300000\n",
    "a model with nan": "budget: 300000\n",
}

ACTUALS = "date,touchpoint,spend\n2027-01-04,tv,1000\n2027-01-04,search,2000\n"


def invoke(args: list[str]):
    r = CliRunner().invoke(cli, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, r.stderr


def message(stderr: str) -> str:
    """The error line (``error: …``), whichever command printed it."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def agree(name: str, validate: tuple[int, str], other: tuple[int, str], cmd: str) -> None:
    vcode, verr = validate
    code, err = other
    assert code in (0, 2, 3, 4), (name, cmd, code, err)
    if code == 2:
        assert vcode == 2, f"{name}: {cmd} refuses it but validate passes it: {err}"
        assert message(verr) == message(err), (name, cmd)
    else:
        assert vcode == 0, f"{name}: {cmd} takes it (exit {code}) but validate fails: {verr}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_validate_refuses_a_scenario_iff_optimize_and_replan_do(tmp_path, name):
    model = json.loads(json.dumps(MODEL))
    if name == "a model with nan":
        model["touchpoints"]["tv"]["adstock"]["decay"] = float("nan")
    if name != "a model that does not exist":
        (tmp_path / "model.json").write_text(json.dumps(model), encoding="utf-8")
    sc = tmp_path / "s.yaml"
    sc.write_text(BASE + SCENARIOS[name], encoding="utf-8")
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(ACTUALS, encoding="utf-8")
    v = invoke(["validate", str(sc)])
    o = invoke(["optimize", str(sc), "--no-ledger", "-q", "--format", "json"])
    r = invoke(["replan", str(sc), "--actuals", str(actuals), "--no-ledger", "-q"])
    agree(name, v, o, "optimize")
    agree(name, v, r, "replan")
    if name.startswith("valid") or name.startswith("infeasible"):
        assert v[0] == 0 and o[0] in (0, 3), (v, o)
    else:
        assert v[0] == 2 and o[0] == 2, (v, o)


# ---- histories: validate --journey against fit ------------------------------------------------
JOURNEY = "kpi: revenue\ntouchpoints:\n- {id: tv, stage: awareness}\n- {id: search, stage: consideration}\n"


def history(weeks: int, markets: list[str] | None = None, bad: str | None = None) -> str:
    import datetime as dt

    head = "date,market,tv,search,revenue" if markets else "date,tv,search,revenue"
    rows = [head]
    for m in markets or [None]:
        for w in range(weeks):
            d = (dt.date(2024, 1, 1) + dt.timedelta(weeks=w)).isoformat()
            cells = [d, *([m] if m else []), f"{1000 + 37 * w % 500}", f"{800 + 53 * w % 300}"]
            rows.append(",".join([*cells, f"{50000 + 911 * w % 7000}"]))
    if bad:
        cells = rows[3].split(",")
        cells[-2] = bad
        rows[3] = ",".join(cells)
    return "\n".join(rows) + "\n"


HISTORIES = {
    "valid": (history(60), False),
    "valid markets": (history(60, ["north", "south"]), True),
    "too few weeks to fit": (history(20), False),
    "a market with too few weeks": (
        history(60, ["north"]) + "".join(history(20, ["south"]).splitlines(True)[1:]),
        True,
    ),
    "markets whose files clash": (history(60, ["North East", "north-east", "North/East"]), True),
    "nan spend": (history(60, bad="nan"), False),
    "negative spend": (history(60, bad="-5"), False),
    "spend out of range": (history(60, bad="1e308"), False),
}


class _ReachedFitting(SystemExit):
    """Raised where ``fit`` would start fitting: the inputs were taken."""


@pytest.mark.parametrize("name", list(HISTORIES))
def test_validate_refuses_a_history_iff_fit_does(tmp_path, monkeypatch, name):
    text, by_market = HISTORIES[name]
    j = tmp_path / "journey.yaml"
    j.write_text(JOURNEY, encoding="utf-8")
    h = tmp_path / "history.csv"
    h.write_text(text, encoding="utf-8")

    def reached(*_a, **_k):
        raise _ReachedFitting(99)

    monkeypatch.setattr(fitting, "fit_history", reached)
    monkeypatch.setattr(fitting, "_fit_market", reached)
    v = invoke(["validate", str(h), "--journey", str(j)])
    args = ["fit", "--journey", str(j), "--history", str(h), "-q", "--bootstrap", "0"]
    args += ["-o", str(tmp_path / ("out" if by_market else "model.json"))]
    f = invoke(args + (["--by-market"] if by_market else []))
    if f[0] == 99:  # fit took the files and began fitting
        assert v[0] == 0, f"{name}: fit takes it but validate fails: {v[1]}"
    else:
        assert f[0] == 2, (name, f)
        assert v[0] == 2, f"{name}: fit refuses it but validate passes it: {f[1]}"
        assert message(v[1]) == message(f[1]), name
    assert (v[0] == 0) == name.startswith("valid"), (name, v, f)


def test_a_model_file_validate_passes_is_one_optimize_reads(tmp_path):
    """A model file on its own is read by the same reader a scenario's model is."""
    (tmp_path / "model.json").write_text(json.dumps(MODEL), encoding="utf-8")
    assert invoke(["validate", str(tmp_path / "model.json")])[0] == 0
    assert Path(tmp_path / "model.json").exists()
