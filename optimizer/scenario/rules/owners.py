"""Budget owners' rules: ``owners: {"Performance team": {max_share: 0.5}}`` over the line items of
the touchpoints the journey gives that ``owner`` (rows ``owner_min``, ``owner_max``,
``owner_min_share``, ``owner_max_share``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimizer.scenario.fields import suggest
from optimizer.scenario.rules.base import LineItems, ModelNames, RowSink
from optimizer.scenario.rules.shares import ShareRules

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


class OwnerRules(ShareRules):
    prefix = "owner"
    section = "owners"
    row_kinds = ("owner_min", "owner_max", "owner_min_share", "owner_max_share")

    def check(self, sc: Scenario, model: ModelNames | None) -> list[str]:
        if model is None:
            return []
        known = sorted({o for o in model.owners_of.values() if o})
        out = []
        for o in sc.owners:
            if o in known:
                continue
            have = (
                f"; the model's owners are {', '.join(repr(k) for k in known)}"
                if known
                else "; the model names no owners (give touchpoints an 'owner' in the journey "
                "and fit again, or add 'owner' to the model file)"
            )
            out.append(f"field 'owners.{o}': unknown owner '{o}'{suggest(o, known)}{have}")
        return out

    def add_rows(self, sc: Scenario, items: LineItems, out: RowSink) -> None:
        for o, rule in sc.owners.items():
            self.share_rows(out, o, items.owner(o), items.all, rule, f"{o} budget")
