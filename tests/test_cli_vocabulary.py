"""One vocabulary across commands: every output option takes ``-o``, ``--output`` and ``--out``;
``--format`` choices and option defaults are the library's constants, not copies in the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from optimizer.app.demo import DEFAULT_DEMO_DIR
from optimizer.app.fitting import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_HOLDOUT_WEEKS,
    DEFAULT_POOL,
    DEFAULT_SEED,
)
from optimizer.cli import cli
from optimizer.defaults import RECENT_RUNS
from optimizer.explain.review import DEFAULT_SWEEP_POINTS
from optimizer.render import COMPARE_FORMATS, LEDGER_FORMATS, REVIEW_FORMATS, TABLE_FORMATS
from optimizer.workflow.daily import DEFAULT_BLOCKSIZE
from optimizer.workflow.robust import DEFAULT_ROBUST
from optimizer.workflow.sweep import DEFAULT_SWEEP_JOBS
from tests.factories import write_tiny_world


def _commands() -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in cli.commands.items():
        out[name] = cmd
        if isinstance(cmd, click.Group):
            out.update({f"{name} {n}": c for n, c in cmd.commands.items()})
    return out


def _param(cmd: click.Command, name: str) -> click.Parameter:
    return next(p for p in cmd.params if p.name == name)


def test_every_output_option_takes_all_three_spellings():
    with_output = {n: c for n, c in _commands().items() if any(p.name == "out" for p in c.params)}
    assert {"optimize", "compare", "sweep", "explain", "fit", "aggregate", "demo"} <= set(
        with_output
    )
    assert {"diff", "track", "replan"} <= set(with_output)
    for name, cmd in with_output.items():
        p = next(p for p in cmd.params if p.name == "out")
        assert {"-o", "--output", "--out"} <= set(p.opts), f"{name}: {p.opts}"


def test_format_choices_are_the_render_layers_lists():
    cmds = _commands()
    expected = {
        "optimize": TABLE_FORMATS,
        "sweep": TABLE_FORMATS,
        "diff": TABLE_FORMATS,
        "track": TABLE_FORMATS,
        "replan": TABLE_FORMATS,
        "compare": COMPARE_FORMATS,
        "history": LEDGER_FORMATS,
        "history show": LEDGER_FORMATS,
        "explain": REVIEW_FORMATS,
    }
    for name, formats in expected.items():
        p = _param(cmds[name], "fmt")
        assert isinstance(p.type, click.Choice) and tuple(p.type.choices) == formats, name


def test_defaults_are_the_librarys_constants():
    cmds = _commands()
    assert _param(cmds["fit"], "seed").default == DEFAULT_SEED
    assert _param(cmds["fit"], "bootstrap").default == DEFAULT_BOOTSTRAP
    assert _param(cmds["fit"], "holdout").default == DEFAULT_HOLDOUT_WEEKS
    # explain's sweep: the library's constant for an undated plan, none for a plan on a calendar
    # (app.review.write_review resolves the default None by the plan); the help says both
    sweep = _param(cmds["explain"], "sweep_points")
    assert sweep.default is None and f"[default: {DEFAULT_SWEEP_POINTS}; 0 for a plan" in sweep.help
    assert _param(cmds["history"], "limit").default == RECENT_RUNS
    assert _param(cmds["aggregate"], "blocksize").default == DEFAULT_BLOCKSIZE
    assert _param(cmds["demo"], "out").default == DEFAULT_DEMO_DIR
    assert _param(cmds["fit"], "pool").default == DEFAULT_POOL
    assert _param(cmds["optimize"], "robust").default == DEFAULT_ROBUST
    assert _param(cmds["sweep"], "jobs").default == DEFAULT_SWEEP_JOBS


def test_out_and_output_write_the_same_plan(tmp_path):
    """The path users take: the CLI as a subprocess, once with each long spelling."""
    w = write_tiny_world(tmp_path / "w")
    texts = []
    for flag in ("--output", "--out"):
        path = tmp_path / f"plan{flag}.json"
        r = subprocess.run(
            [sys.executable, "-m", "optimizer", "optimize", str(w["scenario"]), "--no-ledger"]
            + ["-q", "--format", "json", flag, str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        texts.append(path.read_text())
    assert texts[0] == texts[1] and json.loads(texts[0])["status"] == "optimal"
