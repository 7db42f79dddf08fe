"""Stage rules: ``stages: {awareness: {min_share: 0.15, max: 500000}}`` over the stage's line
items (rows ``stage_min``, ``stage_max``, ``stage_min_share``, ``stage_max_share``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimizer.scenario.fields import suggest
from optimizer.scenario.rules.base import LineItems, ModelNames, RowSink
from optimizer.scenario.rules.shares import ShareRules
from optimizer.vocabulary import STAGES

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class StageRules(ShareRules):
    prefix = "stage"
    section = "stages"
    row_kinds = ("stage_min", "stage_max", "stage_min_share", "stage_max_share")

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is None:
            return []
        known = model.stages or tuple(sorted(set(model.touchpoint_stages.values())))
        valid = set(known) | set(STAGES)
        return [
            # a journey stage that no touchpoint of the model is in: say so (the close match
            # would otherwise be the stage itself)
            f"field 'stages.{st}': no touchpoint of the model is in the stage '{st}' "
            f"(its stages: {', '.join(known) or 'none'})"
            if st in STAGES
            else f"field 'stages.{st}': unknown stage '{st}'{suggest(st, valid)}"
            for st in sc.stages
            if st not in known
        ]

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for st, rule in sc.stages.items():
            self.share_rows(out, st, items.stage(st), items.all, rule, f"{st} stage", items.weights)
