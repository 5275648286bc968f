"""Demand: leads by channel and segment each month, market saturation, qualification, and
the draws of each opportunity (a ``Prospect``).

Leads that never become opportunities are drawn in bulk (numpy) and only counted, so only
opportunities become SimPy events.
"""

from __future__ import annotations

import numpy as np

from sim.engine.context import Context
from sim.engine.entities import Prospect
from sim.engine.plan import MonthlyPlan, effective_headcount
from sim.units import CHANNELS, LEAD_CHANNELS, MONTH_DAYS

# each prospect attribute has its own stream per channel x segment: the i-th prospect of a
# channel and segment gets the same draws whatever else changes
PROSPECT_DRAWS = ("contract", "wtp", "seats", "win", "cycle", "patience", "onboarding",
                  "account")


def saturation(customers: int, market_size_accounts: float) -> float:
    """Share of a segment's market still open: demand falls as the customer count grows."""
    return max(0.0, 1.0 - customers / market_size_accounts)


def lead_volumes(ctx: Context, plan: MonthlyPlan, month: int) -> list[float]:
    """Expected leads of the whole market by lead channel in a 1-based month."""
    s = ctx.scenario
    inbound, outbound, partner = s.channels.inbound, s.channels.outbound, s.channels.partner
    budget = plan.marketing_budget_usd[month - 1]
    return [
        inbound.leads_scale_k * budget ** inbound.response_exponent_b if budget > 0 else 0.0,
        effective_headcount(s.headcount.sdr, month) * outbound.leads_per_sdr_per_month,
        plan.active_partners[month - 1] * partner.referrals_per_partner_per_month,
    ]


class Demand:
    """Draws each month's leads and opportunities from the ``leads/``, ``arrivals/`` and
    ``prospects/`` streams; the pipeline warm-up before day 0 from the same names under
    ``warmup/``, so the plan's own draws do not depend on it."""

    def __init__(self, ctx: Context, plan: MonthlyPlan):
        self.ctx, self.plan = ctx, plan
        streams = ctx.streams
        cells = [(c, k, name) for c in LEAD_CHANNELS for k, name in enumerate(ctx.seg_names)]
        self.rng_arrivals = {(c, k): streams.numpy(f"arrivals/{CHANNELS[c]}/{name}")
                             for c, k, name in cells}
        self.rng_prospect = {
            (c, k): {attr: streams.numpy(f"prospects/{CHANNELS[c]}/{name}/{attr}")
                     for attr in PROSPECT_DRAWS}
            for c, k, name in cells
        }
        self.rng_arrivals_warm = {(c, k): streams.numpy(f"warmup/arrivals/{CHANNELS[c]}/{name}")
                                  for c, k, name in cells}
        self.rng_prospect_warm = {
            (c, k): {attr: streams.numpy(f"warmup/prospects/{CHANNELS[c]}/{name}/{attr}")
                     for attr in PROSPECT_DRAWS}
            for c, k, name in cells
        }

    def month(self, t: float, month: int, customers_by_seg: list[int],
              warm_up: int = 0) -> list[Prospect]:
        """Book the month's leads and opportunities; the opportunities in arrival order.
        ``warm_up`` > 0: the warm-up month of that number before day 0 (starting at t < 0),
        with plan month ``month``'s inputs, its own streams and nothing booked."""
        ctx = self.ctx
        ledger = ctx.ledger
        s = ctx.scenario
        channels = (s.channels.inbound, s.channels.outbound, s.channels.partner)
        volumes = lead_volumes(ctx, self.plan, month)
        arrivals: list[Prospect] = []
        for c in LEAD_CHANNELS:
            for k, name in enumerate(ctx.seg_names):
                sat = saturation(customers_by_seg[k], ctx.segments[k].market_size_accounts)
                mean = volumes[c] * channels[c].segment_mix.get(name, 0.0) * sat
                # one stream per month, channel and segment: a changed mean in one cell
                # (saturation moves with the customer count) never shifts another cell
                if warm_up:
                    g = ctx.streams.numpy(f"warmup/leads/{CHANNELS[c]}/{name}/{warm_up}")
                else:
                    g = ctx.streams.numpy(f"leads/{CHANNELS[c]}/{name}/{month}")
                leads = int(g.poisson(mean))
                q = channels[c].qualify_prob_frac.get(name, 0.0)
                opps = int(g.binomial(leads, q)) if leads else 0
                ledger.flow(t, "leads", k, c, leads)  # the ledger books nothing before day 0
                ledger.flow(t, "opportunities", k, c, opps)
                if leads:
                    ctx.note(t, -1, "leads", k, c, float(leads), f"{opps} qualified")
                if opps:
                    rng = (self.rng_arrivals_warm if warm_up else self.rng_arrivals)[(c, k)]
                    times = np.sort(rng.uniform(t, t + MONTH_DAYS, opps))
                    arrivals.extend(self.draw_prospects(k, c, times, bool(warm_up)))
        arrivals.sort(key=lambda p: p.arrival_t)
        return arrivals

    def draw_prospects(self, k: int, c: int, times: np.ndarray,
                       warm_up: bool = False) -> list[Prospect]:
        """Draw the attributes of a batch of opportunities in bulk, one stream each."""
        seg = self.ctx.segments[k]
        g = (self.rng_prospect_warm if warm_up else self.rng_prospect)[(c, k)]
        n = len(times)
        shares = np.cumsum([o.share_frac for o in seg.contracts])
        contract = np.minimum(np.searchsorted(shares, g["contract"].random(n), side="right"),
                              len(seg.contracts) - 1)
        wtp = seg.willingness_to_pay_usd.sample_array(g["wtp"], n)
        seats = np.maximum(1.0, np.round(seg.seats.sample_array(g["seats"], n)))
        win_draw = g["win"].random(n)
        cycle = seg.sales_cycle_days.sample_array(g["cycle"], n)
        patience = seg.patience_days.sample_array(g["patience"], n)
        onboarding = seg.onboarding_days.sample_array(g["onboarding"], n)
        seeds = g["account"].integers(0, 2**63, n)
        return [Prospect(k, c, *row) for row in zip(
            times.tolist(), wtp.tolist(), seats.tolist(), win_draw.tolist(), cycle.tolist(),
            patience.tolist(), contract.tolist(), onboarding.tolist(), seeds.tolist(),
            strict=True)]
