"""Demand: leads by channel and segment each month (what each segment's spend and SDR effort
buy, see ``sim.engine.market``), qualification under the in-market cap, and the draws of each
opportunity (a ``Prospect``).

Leads that never become opportunities are drawn in bulk (numpy) and only counted, so only
opportunities become SimPy events.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.engine import market
from sim.engine.context import Context
from sim.engine.deals import DEAL_DRAWS, draw_deals
from sim.engine.entities import Prospect
from sim.engine.plan import MonthlyPlan, effective_headcount
from sim.engine.pricing import effort_index, response
from sim.engine.streams import PROSPECTING
from sim.units import CHANNELS, LEAD_CHANNELS, MONTH_DAYS, Channel

# each prospect attribute has its own stream per channel x segment: the i-th prospect of a
# channel and segment gets the same draws whatever else changes
PROSPECT_DRAWS = ("contract", "wtp", "seats", "win", "cycle", "patience", "onboarding",
                  "account", "term", *DEAL_DRAWS)


class _Lazy(dict):
    """A dict whose missing values ``make(key)`` makes on first use."""

    def __init__(self, make: Callable):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


def offered_option(contracts, preferred: int) -> int:
    """The option a buyer preferring option ``preferred`` signs on: itself when offered,
    else the shortest offered term at least as long (the first such option), else the longest
    offered shorter term."""
    if contracts[preferred].offered:
        return preferred
    want = contracts[preferred].term_months
    offered = [j for j, o in enumerate(contracts) if o.offered]
    longer = [j for j in offered if contracts[j].term_months >= want]
    if longer:
        return min(longer, key=lambda j: (contracts[j].term_months, j))
    return max(offered, key=lambda j: (contracts[j].term_months, -j))


def term_walk_probability(preferred_months: int, offered_months: int,
                          walk_per_year_frac: float) -> float:
    """Chance that a buyer moved from its preferred term to a longer one walks away:
    ``1 - (1 - p)^(extra months / 12)``; 0 when the term is not longer."""
    extra = offered_months - preferred_months
    if extra <= 0 or walk_per_year_frac <= 0:
        return 0.0
    if walk_per_year_frac >= 1.0:
        return 1.0
    return -np.expm1(extra / 12 * np.log1p(-walk_per_year_frac))


def referral_response(partner) -> float:
    """Referrals per partner relative to the scenario's own, under its commission: exactly 1
    at the reference commission, concave above it, ``1 - response`` at no commission (S10)."""
    g = effort_index(partner.commission_frac, partner.commission_reference_frac,
                     partner.referral_commission_curvature)
    return max(0.0, response(g, partner.referral_commission_response_frac))


def contacts_per_opportunity(outbound, name: str) -> float:
    """Accounts contacted per qualified opportunity on a fresh pool, at the SDRs' yield
    (0 when outbound yields nothing in the segment)."""
    per_lead = (outbound.fresh_leads_per_sdr_per_month[name]
                / outbound.accounts_contacted_per_sdr_per_month[name])
    yield_ = per_lead * outbound.qualify_prob_frac.get(name, 0.0)
    return 1.0 / yield_ if yield_ > 0 else 0.0


def segment_demand(ctx: Context, plan: MonthlyPlan, month: int, k: int, open_accounts: float,
                   pool: market.ContactPool,
                   self_sourced: float = 0.0) -> tuple[list[float], list[float], float]:
    """Expected leads of segment k by lead channel in a 1-based month, each channel's
    chance that a lead qualifies once the in-market cap is applied (see ``sim.engine.market``),
    and the expected opportunities the AEs source themselves.

    Inbound: the segment's share of the budget on its own response curve. Outbound: the
    segment's share of ramped SDRs working its open accounts, less those cooling down from
    an earlier contact (``pool`` advances one month). Partner: referrals by segment mix.
    AE prospecting (``self_sourced``, expected opportunities on a fresh, uncapped market,
    ``sim.engine.sales.SalesTeam.prospecting``): no free lunch, it works the same accounts.
    Its contacts (at the SDRs' accounts per opportunity) join the SDRs' attempts on the
    contact pool, so accounts cooling down yield nothing and the accounts it reaches cool
    down for the SDRs too; its opportunities join the channels' under the in-market cap.
    With ``self_sourced`` 0 every number is the one without prospecting.
    """
    s = ctx.scenario
    name = ctx.seg_names[k]
    inbound, outbound, partner = s.channels.inbound, s.channels.outbound, s.channels.partner
    leads = [0.0, 0.0, plan.active_partners[month - 1] * partner.referrals_per_partner_per_month
             * referral_response(partner) * partner.segment_mix.get(name, 0.0)]
    spend = plan.marketing_budget_usd[month - 1] * inbound.segment_mix.get(name, 0.0)
    if spend > 0:
        leads[Channel.INBOUND] = market.inbound_leads(
            spend, inbound.cost_per_lead_usd[name], inbound.reference_spend_per_month_usd[name],
            inbound.response_exponent_b[name])
    effort = effective_headcount(s.headcount.sdr, month) * outbound.segment_mix.get(name, 0.0)
    attempts = 0.0
    if effort > 0:
        attempts = effort * outbound.accounts_contacted_per_sdr_per_month[name]
    per_opp = contacts_per_opportunity(outbound, name) if self_sourced > 0 else 0.0
    ae_attempts = self_sourced * per_opp
    ae_raw = 0.0
    if ae_attempts > 0:
        reached = pool.step(attempts + ae_attempts, open_accounts)
        ae_reached = reached * ae_attempts / (attempts + ae_attempts)
        reached -= ae_reached  # the SDRs' share of the accounts reached
        ae_raw = ae_reached / per_opp
    else:
        if self_sourced > 0:  # no outbound yield to size its contacts: the fresh share
            fresh = max(0.0, open_accounts - pool.cooling_accounts) if pool.started else (
                open_accounts)
            ae_raw = self_sourced * (fresh / open_accounts if open_accounts > 0 else 0.0)
        reached = pool.step(attempts, open_accounts)
    if effort > 0:
        leads[Channel.OUTBOUND] = reached * (outbound.fresh_leads_per_sdr_per_month[name]
                                             / outbound.accounts_contacted_per_sdr_per_month[name])
    qualify = [ch.qualify_prob_frac.get(name, 0.0) for ch in (inbound, outbound, partner)]
    raw = sum(n * q for n, q in zip(leads, qualify, strict=True))
    if ae_raw > 0:
        raw += ae_raw
    in_market = market.in_market_per_month(open_accounts, ctx.segments[k].in_market_per_year_frac)
    scale = market.qualify_scale(raw, in_market)
    return leads, [q * scale for q in qualify], ae_raw * scale


class Demand:
    """Draws each month's leads and opportunities from the ``leads/``, ``arrivals/`` and
    ``prospects/`` streams; the pipeline warm-up before day 0 from the same names under
    ``warmup/``, so the plan's own draws do not depend on it."""

    def __init__(self, ctx: Context, plan: MonthlyPlan):
        self.ctx, self.plan = ctx, plan
        cells = [(c, k, name) for c in LEAD_CHANNELS for k, name in enumerate(ctx.seg_names)]
        self.rng_arrivals, self.rng_prospect = self._cell_streams("", cells)
        # the contact pools are shared by the warm-up and the plan: the warm-up months step
        # them too, so day 0 finds each pool in the steady state of month 1's effort (a pool
        # starts there and a constant effort on the constant pre-day-0 market keeps it there)
        cooldown = ctx.scenario.channels.outbound.cooldown_months
        self.pools = [market.ContactPool(cooldown) for _ in ctx.seg_names]
        self.rng_arrivals_warm, self.rng_prospect_warm = self._cell_streams("warmup/", cells)
        # AE prospecting: each month's self-sourced interest by segment (set by the model to
        # ``SalesForce.prospecting``; None = AEs do not prospect), drawn on prospecting/
        # streams of its own so that no other draw moves with it
        self.prospecting: Callable[[float, list[float]], list[float]] | None = None
        own = [(Channel.OUTBOUND, k, name) for k, name in enumerate(ctx.seg_names)]
        self.rng_self, self.rng_self_prospect = self._cell_streams(PROSPECTING, own)
        self.rng_self_warm, self.rng_self_prospect_warm = self._cell_streams(
            "warmup/" + PROSPECTING, own)

    def _cell_streams(self, prefix: str, cells) -> tuple[dict, dict]:
        """Per channel and segment: the arrival-time stream and the prospect draws' streams,
        named under ``prefix`` (``""`` for the plan, ``warmup/`` for the warm-up). Each is
        made on first use (a stream is fixed by its name, so when it is made moves no draw):
        a replication makes only the streams it draws on."""
        streams = self.ctx.streams
        names = {(c, k): f"{CHANNELS[c]}/{name}" for c, k, name in cells}
        arrivals = _Lazy(lambda cell: streams.numpy(f"{prefix}arrivals/{names[cell]}"))
        prospects = _Lazy(lambda cell: _Lazy(
            lambda attr: streams.numpy(f"{prefix}prospects/{names[cell]}/{attr}")))
        return arrivals, prospects

    def month(self, t: float, month: int, customers_by_seg: list[int],
              warm_up: int = 0) -> list[Prospect]:
        """Book the month's leads and opportunities; the opportunities in arrival order.
        ``warm_up`` > 0: the warm-up month of that number before day 0 (starting at t < 0),
        with plan month ``month``'s inputs, its own streams and nothing booked."""
        ctx = self.ctx
        ledger = ctx.ledger
        arrivals: list[Prospect] = []
        opens = [max(0.0, seg.market_size_accounts - n)
                 for seg, n in zip(ctx.segments, customers_by_seg, strict=True)]
        self_sourced = [0.0] * len(opens)
        if self.prospecting is not None:
            self_sourced = self.prospecting(t, [
                market.buying_accounts_per_month(a, seg.in_market_per_year_frac)
                for a, seg in zip(opens, ctx.segments, strict=True)])
        for k, name in enumerate(ctx.seg_names):
            open_accounts = opens[k]
            # warm-up months run the same market (spend response, contact pool, in-market
            # cap) on plan month ``month``'s inputs; only the draws come from warmup/ streams
            leads, qualify, own = segment_demand(ctx, self.plan, month, k, open_accounts,
                                                 self.pools[k], self_sourced[k])
            for c in LEAD_CHANNELS:
                # one stream per month, channel and segment: a changed mean in one cell never
                # shifts another cell
                if warm_up:
                    g = ctx.streams.numpy(f"warmup/leads/{CHANNELS[c]}/{name}/{warm_up}")
                else:
                    g = ctx.streams.numpy(f"leads/{CHANNELS[c]}/{name}/{month}")
                n_leads = int(g.poisson(leads[c]))
                opps = int(g.binomial(n_leads, qualify[c])) if n_leads else 0
                drawn = []
                if opps:
                    rng = (self.rng_arrivals_warm if warm_up else self.rng_arrivals)[(c, k)]
                    times = np.sort(rng.uniform(t, t + MONTH_DAYS, opps))
                    drawn = self.draw_prospects(k, c, times, bool(warm_up))
                # buyers who walk on the terms offered never become opportunities
                kept = len(drawn)
                ledger.flow(t, "leads", k, c, n_leads)  # the ledger books nothing before day 0
                ledger.flow(t, "opportunities", k, c, kept)
                if n_leads:
                    ctx.note(t, -1, "leads", k, c, float(n_leads),
                             f"{kept} qualified" + (f", {opps - kept} walked on the term offered"
                                                    if kept < opps else ""))
                arrivals.extend(drawn)
            if own > 0:
                arrivals.extend(self._self_sourced(t, month, k, own, warm_up))
        arrivals.sort(key=lambda p: p.arrival_t)
        return arrivals

    def _self_sourced(self, t: float, month: int, k: int, expected: float,
                      warm_up: int) -> list[Prospect]:
        """The month's opportunities the AEs sourced in segment k: a Poisson count, then
        arrival times and draws as an outbound opportunity's, all on prospecting/ streams."""
        ctx, name, c = self.ctx, self.ctx.seg_names[k], Channel.OUTBOUND
        if warm_up:
            g = ctx.streams.numpy(f"warmup/{PROSPECTING}count/{name}/{warm_up}")
        else:
            g = ctx.streams.numpy(f"{PROSPECTING}count/{name}/{month}")
        n = int(g.poisson(expected))
        if not n:
            return []
        rng = (self.rng_self_warm if warm_up else self.rng_self)[(c, k)]
        times = np.sort(rng.uniform(t, t + MONTH_DAYS, n))
        streams = self.rng_self_prospect_warm if warm_up else self.rng_self_prospect
        drawn = self.draw_prospects(k, c, times, streams=streams)
        # an AE's own lead is qualified by the AE: it counts as a lead and an opportunity
        ledger = ctx.ledger
        ledger.flow(t, "leads", k, c, len(drawn))
        ledger.flow(t, "opportunities", k, c, len(drawn))
        ledger.flow(t, "opportunities_self_sourced", k, c, len(drawn))
        if drawn:
            ctx.note(t, -1, "leads", k, c, float(len(drawn)),
                     f"{len(drawn)} qualified, self-sourced by AEs")
        return drawn

    def draw_prospects(self, k: int, c: int, times: np.ndarray, warm_up: bool = False,
                       streams: dict | None = None) -> list[Prospect]:
        """Draw the attributes of a batch of opportunities in bulk, one stream each. The
        contract draw is the buyer's preferred option; when the plan does not offer it the
        buyer is moved to ``offered_option`` and walks away with ``term_walk_probability``
        (dropped from the batch: every other draw of the batch is unchanged)."""
        seg = self.ctx.segments[k]
        g = (streams if streams is not None else
             self.rng_prospect_warm if warm_up else self.rng_prospect)[(c, k)]
        n = len(times)
        shares = np.cumsum([o.share_frac for o in seg.contracts])
        preferred = np.minimum(np.searchsorted(shares, g["contract"].random(n), side="right"),
                               len(seg.contracts) - 1)
        keep = np.ones(n, dtype=bool)
        if all(o.offered for o in seg.contracts):
            contract = preferred
        else:
            terms = [o.term_months for o in seg.contracts]
            moved = [offered_option(seg.contracts, j) for j in range(len(seg.contracts))]
            walk = np.array([term_walk_probability(terms[j], terms[moved[j]],
                                                   seg.longer_term_walk_per_year_frac)
                             for j in range(len(seg.contracts))])
            contract = np.asarray(moved)[preferred]
            keep = g["term"].random(n) >= walk[preferred]
        wtp = seg.willingness_to_pay_usd.sample_array(g["wtp"], n)
        seats = np.maximum(1.0, np.round(seg.seats.sample_array(g["seats"], n)))
        win_draw = g["win"].random(n)
        cycle = seg.sales_cycle_days.sample_array(g["cycle"], n)
        patience = seg.patience_days.sample_array(g["patience"], n)
        onboarding = seg.onboarding_days.sample_array(g["onboarding"], n)
        seeds = g["account"].integers(0, 2**63, n)
        deals = draw_deals(g, self.ctx.prices[k], n)
        return [Prospect(k, c, *row) for row, kept in zip(zip(
            times.tolist(), wtp.tolist(), seats.tolist(), win_draw.tolist(), cycle.tolist(),
            patience.tolist(), contract.tolist(), onboarding.tolist(), seeds.tolist(), deals,
            strict=True), keep.tolist(), strict=True) if kept]
