"""Per-segment economics of the baseline and the bundled what-ifs next to published ranges,
as a Markdown table for the README (issue 13):

    .venv/bin/python scripts/segment_economics.py [replications] [scenario ...]

Pooled over ``replications`` (default 10) of 36 months, seed 0. Ranges are from
docs/saas-benchmarks.md (S2 payback by ACV, section 2 and S5 quota, section 1 and S8 win
rates, section 4 and S6 discounts).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import sim
from sim.analysis.metrics import segment_economics

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = {
    "cac_payback_months": {"smb": "12 (Sheridan); 8-12 (S2, low)",
                           "mid_market": "12-15 (Sheridan); 14-18 (S2, low)",
                           "enterprise": "12-18 (Sheridan); 18-24 (S2, low)"},
    "new_arr_per_ramped_ae_year": {"smb": "quota median $750K (BenchSights)",
                                   "mid_market": "quota median $750K (BenchSights)",
                                   "enterprise": "quota ~$800K (S5)"},
    "discount_frac": {"smb": "8-32% (S6, low)", "mid_market": "25-45% (S6, low)",
                      "enterprise": "18-42% (tier-1 vendors)"},
    "win_rate_frac": {s: "19-29% (Ebsta); 22-28% (Gong)" for s in ("smb", "mid_market",
                                                                   "enterprise")},
}
DEFAULT = ("baseline", "enterprise_focus", "upmarket_shift", "efficient_growth",
           "discount_cap", "price_increase", "partner_push", "cs_investment")


def table(names, replications: int) -> pd.DataFrame:
    rows = []
    for name in names:
        sc = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        runs = [sim.simulate(sc, seed=0, replication=r) for r in range(replications)]
        econ = segment_economics(pd.concat([r.by_segment for r in runs]),
                                 pd.concat([r.by_team for r in runs]),
                                 {t: team.segments for t, team in sc.sales.teams.items()})
        profit = sum(r.monthly["operating_profit"].sum() for r in runs) / replications
        for seg, e in econ.iterrows():
            rows.append({"scenario": name, "profit_usd": profit, "segment": seg, **e})
    return pd.DataFrame(rows)


def markdown(t: pd.DataFrame) -> str:
    out = ["| Scenario | Segment | CAC | CAC payback (mo) | New ARR per ramped AE-year | "
           "Quota attainment | Discount | Win rate |",
           "|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        out.append(f"| {r.scenario} | {r.segment} | ${r.cac / 1e3:,.1f}K | "
                   f"{r.cac_payback_months:.1f} | ${r.new_arr_per_ramped_ae_year / 1e3:,.0f}K | "
                   f"{r.quota_attainment_frac:.0%} | {r.discount_frac:.1%} | "
                   f"{r.win_rate_frac:.1%} |")
    out.append("| **published** | smb | | " + " | ".join(
        PUBLISHED[k]["smb"] for k in ("cac_payback_months", "new_arr_per_ramped_ae_year"))
        + " | 20-33% of reps attain (S5) | " + PUBLISHED["discount_frac"]["smb"] + " | "
        + PUBLISHED["win_rate_frac"]["smb"] + " |")
    for seg in ("mid_market", "enterprise"):
        out.append(f"| **published** | {seg} | | {PUBLISHED['cac_payback_months'][seg]} | "
                   f"{PUBLISHED['new_arr_per_ramped_ae_year'][seg]} | | "
                   f"{PUBLISHED['discount_frac'][seg]} | {PUBLISHED['win_rate_frac'][seg]} |")
    return "\n".join(out)


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    names = sys.argv[2:] or DEFAULT
    t = table(names, reps)
    print(markdown(t))
    profits = t.groupby("scenario", sort=False)["profit_usd"].first()
    print()
    for name, p in profits.items():
        print(f"{name}: operating profit over 36 months ${p / 1e6:,.2f}M")
