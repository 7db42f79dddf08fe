"""The commands' choices and defaults, each defined once here: the layers that use them import
them from here, and the command line reads them for its options (and ``--help``) without
importing those layers (numpy, pandas, PuLP, HiGHS: seconds of start-up on every command).
Nothing here imports anything heavier than ``typing``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

# ---- the ledger (workflow.ledger, app.run) ---------------------------------------------------
Command = Literal["optimize", "compare", "sweep", "replan"]
#: the commands whose runs the ledger records and ``rerun`` replays
COMMANDS: tuple[Command, ...] = get_args(Command)
#: every command the ledger records: those, and ``explain`` (its review pack's plan)
RECORDED = (*COMMANDS, "explain")
#: how many runs ``budgetopt history`` lists by default (newest first)
RECENT_RUNS = 20

# ---- allocate ----------------------------------------------------------------------------------
SOLVERS = ("highs", "cbc")
DEFAULT_SOLVER = "highs"
DEFAULT_TOLERANCE = 1e-4  # 0.01 %

# ---- workflow ----------------------------------------------------------------------------------
#: optimize --robust (workflow.robust)
ROBUST_MODES = ("none", "mean", "anchored", "auto")
DEFAULT_ROBUST = (
    "auto"  #: optimize --robust: the anchored plan where the data call for it (anchored.auto_plan)
)
#: sweep --jobs: local processes walking stretches of budgets (the plans do not depend on it)
DEFAULT_SWEEP_JOBS = 1
#: a line item more than this far from its plan to date is flagged over / under
DEFAULT_BAND = 0.10
#: how an actuals file's rows are dated (``--frequency``): a week's spend, dated by any day of the
#: week, or a month's, dated the 1st; None: told from the dates (``workflow.actuals._frequency``)
FREQUENCIES = ("week", "month")
#: default CSV block size: each block is read, reduced to weekly sums and dropped
DEFAULT_BLOCKSIZE = "64MB"

# ---- explain -----------------------------------------------------------------------------------
#: budgets from 0 to twice the budget where each line item's role is looked for (``--sweep-points``)
DEFAULT_SWEEP_POINTS = 21

# ---- fit (app.fitting, response.seasonal_effect) -----------------------------------------------
#: ``budgetopt fit``'s defaults: random seed, local jobs, bootstrap refits, final weeks held out
DEFAULT_SEED = 0
DEFAULT_JOBS = 1
DEFAULT_BOOTSTRAP = 20
DEFAULT_HOLDOUT_WEEKS = 13
#: fit --by-market: pool each touchpoint's marginal return across markets (empirical Bayes)
DEFAULT_POOL = True
#: fit --by-market: each touchpoint's adstock decay across markets (``response.shared_decay``):
#: "off" (each market's own), "pooled" (spread by empirical Bayes) or "shared" (one decay)
SHARE_DECAY_CHOICES = ("off", "pooled", "shared")
DEFAULT_SHARE_DECAY = "off"
#: whether ``fit`` tests for a season of the media effect unless told not to (the CLI's
#: ``--seasonal-effectiveness/--no-seasonal-effectiveness`` default)
SEASONAL_EFFECTIVENESS = True

# ---- demo --------------------------------------------------------------------------------------
#: where ``budgetopt demo`` writes when no folder is given
DEFAULT_DEMO_DIR = Path("budgetopt-demo")
