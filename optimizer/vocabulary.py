"""The shared vocabulary: journey stages, column names, field names."""

from __future__ import annotations

#: The customer-journey stages, in journey order (the default when a journey lists none).
STAGES: tuple[str, ...] = (
    "awareness",
    "consideration",
    "decision",
    "purchase",
    "post_purchase",
    "loyalty",
    "advocacy",
)

DATE_COLUMN = "date"
TOUCHPOINT_COLUMN = "touchpoint"
SPEND_COLUMN = "spend"
#: The column of a history (or daily file) that splits it into markets, one model per market.
MARKET_COLUMN = "market"

#: Minimum number of weeks of history to fit a response model at all.
MIN_WEEKS_TO_FIT = 52

CURVE_FAMILIES: tuple[str, ...] = ("hill", "exponential", "logistic")
ADSTOCK_FAMILIES: tuple[str, ...] = ("geometric",)

OBJECTIVES: tuple[str, ...] = ("max_kpi", "min_spend", "max_net", "max_value")

# ---- the documented ranges of every number a user gives (docs/cli.md, docs/file-formats.md) ---
#: the largest amount of money anywhere (a budget, a rule, a week's spend): a trillion
MAX_MONEY = 1e12
#: the most budgets one sweep may ask for
MAX_BUDGETS = 10_000
#: a response curve's parameters (model.json): beta and the curve's scale in KPI / money units
MAX_CURVE_VALUE = 1e15
MIN_CURVE_SCALE = 1e-6
#: hill shape: below 0.1 the curve is a step at zero spend, above 10 a step at half-saturation
HILL_SHAPE_RANGE = (0.1, 10.0)
#: logistic lam (per unit of money)
LOGISTIC_LAM_RANGE = (1e-15, 1e3)
#: adstock: decay below this (a week's carry-over never above 99.9%); max_lag up to ten years
MAX_DECAY = 0.999
MAX_LAG_WEEKS = 520
#: a KPI value in a history, or a money-per-KPI value
MAX_KPI = 1e15
