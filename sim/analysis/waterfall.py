"""The pocket-price waterfall of new business per segment, from the ledger flows: list ARR
of the deals won, each concession and commission, down to the pocket price.

Steps (USD over the horizon, and % of list): list → term discount → rep discount →
quarter-end extra → price leak → commissions (sales, partner) → pocket price. When the ledger
splits the discount (``term_discount_usd``, ``rep_discount_usd``, ``quarter_end_discount_usd``,
``price_leak_usd``) each is a step, and whatever of ``discount_usd`` they do not explain is
"other discount"; without the split ``discount_usd`` is one "discount" step. Commissions are
those paid in the horizon: the sales commission of the segment's deals (new and expansion)
and the partner commission on partner-sourced ARR. Pocket price = list − every step, exactly.
"""

from __future__ import annotations

import pandas as pd

DISCOUNT_STEPS = (("term_discount_usd", "Term discount"),
                  ("rep_discount_usd", "Rep discount"),
                  ("quarter_end_discount_usd", "Quarter-end extra"),
                  ("price_leak_usd", "Price leak"))
"""The ledger's discount split, in waterfall order, when the engine records it."""
COMMISSION_STEPS = (("sales_commission", "Sales commission"),
                    ("partner_cost", "Partner commission"))
LIST, POCKET = "List price", "Pocket price"
TOLERANCE_USD = 1e-6


def pocket_price_waterfall(by_segment: pd.DataFrame) -> pd.DataFrame:
    """One row per segment and step: ``segment``, ``step``, ``usd`` (the list and pocket
    rows positive, each step negative) and ``pct_of_list``, summed over the months (and
    replications, divided by their number) of a by-segment table."""
    reps = by_segment["replication"].nunique() if "replication" in by_segment else 1
    split = [(c, label) for c, label in DISCOUNT_STEPS if c in by_segment.columns]
    cols = ["list_arr_won", "discount_usd", *(c for c, _ in split),
            *(c for c, _ in COMMISSION_STEPS if c in by_segment.columns)]
    sums = by_segment.groupby("segment", sort=False)[cols].sum() / max(reps, 1)
    rows = []
    for seg, s in sums.iterrows():
        steps: list[tuple[str, float]] = []
        if split:
            for c, label in split:
                steps.append((label, -float(s[c])))
            other = float(s["discount_usd"]) - sum(float(s[c]) for c, _ in split)
            if abs(other) > TOLERANCE_USD:
                steps.append(("Other discount", -other))
        else:
            steps.append(("Discount", -float(s["discount_usd"])))
        for c, label in COMMISSION_STEPS:
            if c in s.index:
                steps.append((label, -float(s[c])))
        list_usd = float(s["list_arr_won"])
        pocket = list_usd + sum(v for _, v in steps)
        for step, usd in [(LIST, list_usd), *steps, (POCKET, pocket)]:
            rows.append({"segment": seg, "step": step, "usd": usd,
                         "pct_of_list": usd / list_usd if list_usd > 0 else float("nan")})
    return pd.DataFrame(rows, columns=["segment", "step", "usd", "pct_of_list"])
