"""The pocket-price waterfall of new business per segment, from the ledger flows: list ARR
of the deals won, each concession and commission, down to the pocket price.

Steps (USD over the horizon, and % of list): list → term discount → rep discount →
quarter-end extra → commissions (sales, partner) → pocket price. When the ledger splits the
discount (``term_discount_usd``, ``rep_discount_usd``, ``quarter_end_discount_usd``) each is a
step, and whatever of ``discount_usd`` they do not explain is "other discount"; without the
split ``discount_usd`` is one "discount" step. The price leak (``price_leak_usd``: discount
given beyond what the buyer needed, a part of the rep and quarter-end discounts) is a memo
row after the pocket price (``memo`` true), not a step: it is already inside them. Commissions are
those paid in the horizon: the sales commission of the segment's deals (new and expansion)
and the partner commission on partner-sourced ARR. Pocket price = list − every step, exactly.
"""

from __future__ import annotations

import pandas as pd

DISCOUNT_STEPS = (("term_discount_usd", "Term discount"),
                  ("rep_discount_usd", "Rep discount"),
                  ("quarter_end_discount_usd", "Quarter-end extra"))
"""The ledger's discount split, in waterfall order, when the engine records it."""
COMMISSION_STEPS = (("sales_commission", "Sales commission"),
                    ("partner_cost", "Partner commission"))
LEAK = ("price_leak_usd", "Memo: price leak (inside the discounts above)")
"""Discount given beyond the buyer's need: part of the rep and quarter-end steps."""
LIST, POCKET = "List price", "Pocket price"
TOLERANCE_USD = 1e-6


def pocket_price_waterfall(by_segment: pd.DataFrame) -> pd.DataFrame:
    """One row per segment and step: ``segment``, ``step``, ``usd`` (the list and pocket
    rows positive, each step negative), ``pct_of_list`` and ``memo`` (the price-leak row,
    not part of the sum), summed over the months (and
    replications, divided by their number) of a by-segment table."""
    reps = by_segment["replication"].nunique() if "replication" in by_segment else 1
    split = [(c, label) for c, label in DISCOUNT_STEPS if c in by_segment.columns]
    cols = ["list_arr_won", "discount_usd", *(c for c, _ in split),
            *(c for c, _ in COMMISSION_STEPS if c in by_segment.columns),
            *([LEAK[0]] if split and LEAK[0] in by_segment.columns else [])]
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
        memo = [(LEAK[1], -float(s[LEAK[0]]))] if LEAK[0] in s.index else []
        lines = [(LIST, list_usd, False), *((k, v, False) for k, v in steps),
                 (POCKET, pocket, False), *((k, v, True) for k, v in memo)]
        for step, usd, is_memo in lines:
            rows.append({"segment": seg, "step": step, "usd": usd,
                         "pct_of_list": usd / list_usd if list_usd > 0 else float("nan"),
                         "memo": is_memo})
    return pd.DataFrame(rows, columns=["segment", "step", "usd", "pct_of_list", "memo"])
