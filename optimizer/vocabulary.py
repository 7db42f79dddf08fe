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
