"""The "Trust Enablement" account plan: stakeholders, champions, advocates, critics.

For accounts of the named segments the model keeps who is on our side. The champion may
leave (a gamma tenure with shape < 1, so the hazard is highest in the first months); without
a backup advocate the account must be re-sold: renewal odds fall and expansion stops for a
while. The account-plan programme (a cost per account per month) works on the top N accounts
by ARR: it adds advocates (multi-threading), wins critics over and turns proven accounts into
references that open "buy new" deals in other business units (counted as expansion).

All draws come from its own ``stakeholders`` and ``references`` streams, never from an
account's stream, so turning this on or off leaves every other random draw untouched. It
receives the engine's context and, each month, the function that books an expansion; it
imports nothing back from the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sim.engine.context import Context
from sim.engine.entities import Account
from sim.units import MONTH_DAYS, Channel

MIN_CHURN_FACTOR = 0.3  # advocates cut an account's churn to no less than 30% of its base
MONTHS_PER_YEAR = 12
INSTALLED_CHAMPION_AGE_MONTHS = 12  # an installed account's champion started up to a year ago
PROVEN_ADVOCATES = 2  # advocates an onboarded account needs before it gives references


class Stake:
    """Stakeholder state of one account."""

    __slots__ = ("advocates", "critics", "others", "champion_leaves_t", "unbacked_until",
                 "in_programme")

    def __init__(self) -> None:
        self.advocates = 0
        self.critics = 0
        self.others = 0
        self.champion_leaves_t = math.inf
        self.unbacked_until = -math.inf
        self.in_programme = False


class StakeholderModel:
    """Stakeholder dynamics and the account-plan programme for one replication."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.p = ctx.scenario.account_plan
        self.seg_ids = {i for i, n in enumerate(ctx.seg_names) if n in self.p.segments}
        self.rng = ctx.streams.python("stakeholders")
        self.rng_ref = ctx.streams.python("references")
        self.accounts: dict[int, Account] = {}
        # per-account outcomes for the programme evaluation, kept for every tracked account
        self.outcomes: dict[int, dict] = {}
        # catches the customers' lifecycle calendar up to a time (set by the model), so a
        # new-unit deal sees whether its account churned before it closed
        self.sync: Callable[[float], None] = lambda t: None

    # -- lifecycle hooks called by the model --------------------------------------------------

    def attach(self, a: Account, t: float) -> None:
        if a.seg not in self.seg_ids:
            return
        p, rng = self.p, self.rng
        stake = Stake()
        others = p.stakeholders_per_account - 1
        stake.advocates = min(p.initial_advocates, others)
        rest = others - stake.advocates
        stake.critics = sum(1 for _ in range(rest) if rng.random() < p.critic_prob_frac)
        stake.others = rest - stake.critics
        # installed accounts are past their first months: their champion's clock started earlier
        started = a.start_t
        if a.ch == Channel.INSTALLED_BASE:
            started -= rng.random() * INSTALLED_CHAMPION_AGE_MONTHS * MONTH_DAYS
        stake.champion_leaves_t = max(
            t, started + p.champion_tenure_months.sample(rng) * MONTH_DAYS)
        a.stake = stake
        self.accounts[a.id] = a
        self.outcomes[a.id] = {"account": a.id, "segment": self.ctx.seg_names[a.seg],
                               "renewals": 0, "renewed": 0, "new_unit_arr": 0.0,
                               "programme_months": 0, "entry_month": None, "arr_at_entry": None,
                               "champion_departures": 0, "unbacked_departures": 0,
                               "arr_end": a.arr}

    def detach(self, a: Account, t: float) -> None:
        self.accounts.pop(a.id, None)
        self.outcomes[a.id]["arr_end"] = 0.0

    def finish(self) -> None:
        for a in self.accounts.values():
            self.outcomes[a.id]["arr_end"] = a.arr

    def renewal(self, a: Account, renewed: bool) -> None:
        out = self.outcomes.get(a.id)
        if out is not None:
            out["renewals"] += 1
            out["renewed"] += int(renewed)

    # -- effects on health --------------------------------------------------------------------

    def _settle(self, a: Account, t: float) -> None:
        """Process champion departures up to time t (lazily, in order)."""
        stake, p = a.stake, self.p
        while stake.champion_leaves_t <= t:
            when = stake.champion_leaves_t
            out = self.outcomes[a.id]
            out["champion_departures"] += 1
            backed = stake.advocates > 0
            if backed:
                stake.advocates -= 1  # an advocate becomes the new champion
                new_champion_t = when
            else:
                out["unbacked_departures"] += 1
                stake.unbacked_until = when + p.resell_months * MONTH_DAYS
                new_champion_t = stake.unbacked_until  # once the re-sale is done
            stake.champion_leaves_t = (new_champion_t
                                       + p.champion_tenure_months.sample(self.rng) * MONTH_DAYS)
            self.ctx.note(when, a.id, "champion_departure", a.seg, a.ch, 0.0,
                          "backed" if backed else "no backup")

    def churn_factor(self, a: Account, t: float) -> float:
        """Churn multiplier (part of health): advocates lower it, unconverted critics raise
        it. Multi-threaded accounts also expand faster, as health drives expansion."""
        self._settle(a, t)
        stake, p = a.stake, self.p
        factor = max(MIN_CHURN_FACTOR, 1.0 - p.advocate_renewal_lift_frac * stake.advocates)
        return factor * (1.0 + p.critic_churn_uplift_frac * stake.critics)

    def renewal_factor(self, a: Account, t: float) -> float:
        """Multiplier on the renewal probability: ``no_backup_renewal_factor`` while an account
        whose champion left without a backup is being re-sold, else 1."""
        self._settle(a, t)
        return self.p.no_backup_renewal_factor if t < a.stake.unbacked_until else 1.0

    def may_expand(self, a: Account, t: float) -> bool:
        self._settle(a, t)
        return t >= a.stake.unbacked_until

    # -- the programme, once a month -----------------------------------------------------------

    def monthly(self, t: float, month: int,
                expand: Callable[[Account, float, float], None]) -> None:
        """Start of a month: settle departures, record ARR, run the programme on the top N
        accounts; ``expand`` books a new-unit deal's ARR."""
        p, ctx = self.p, self.ctx
        live = [a for a in self.accounts.values() if a.active]
        for a in live:
            self._settle(a, t)
            out = self.outcomes[a.id]
            out.setdefault("arr_by_month", {})[month] = a.arr
        if p.programme_top_n <= 0:
            return
        top = sorted(live, key=lambda a: (-a.arr, a.id))[: p.programme_top_n]
        chosen = {a.id for a in top}
        for a in live:
            a.stake.in_programme = a.id in chosen
        rng = self.rng_ref
        for a in top:
            stake, out = a.stake, self.outcomes[a.id]
            if out["entry_month"] is None:
                out["entry_month"] = month
                out["arr_at_entry"] = a.arr
            out["programme_months"] += 1
            ctx.ledger.flow(t, "programme_cost", a.seg, a.ch,
                            p.programme_cost_per_account_per_month_usd)
            # multi-threading: convert neutral stakeholders into advocates
            if stake.others > 0 and rng.random() < p.advocate_add_rate_per_year / MONTHS_PER_YEAR:
                stake.others -= 1
                stake.advocates += 1
                ctx.note(t, a.id, "advocate_added", a.seg, a.ch)
            if stake.critics > 0 and rng.random() < p.critic_win_rate_per_year / MONTHS_PER_YEAR:
                stake.critics -= 1
                stake.advocates += 1
                ctx.note(t, a.id, "critic_won", a.seg, a.ch)
            proven = stake.advocates >= PROVEN_ADVOCATES and (a.ttv_days is not None)
            if proven and rng.random() < p.reference_rate_per_year / MONTHS_PER_YEAR:
                ctx.note(t, a.id, "reference_made", a.seg, a.ch)
                ctx.env.process(self._new_unit_deal(a, expand))

    def _new_unit_deal(self, a: Account, expand: Callable[[Account, float, float], None]):
        """A reference opens a deal in another business unit: short cycle, high win rate."""
        p, ctx, rng = self.p, self.ctx, self.rng_ref
        cycle = p.new_unit_cycle_days.sample(rng)
        won = rng.random() < p.new_unit_win_prob_frac
        frac = p.new_unit_arr_frac.sample(rng)
        yield ctx.env.timeout(cycle)
        t = ctx.env.now
        self.sync(t)
        if not won or not a.active:
            return
        delta = a.arr * frac
        if delta <= 0:
            return
        expand(a, t, delta)
        ctx.ledger.flow(t, "new_unit_arr", a.seg, a.ch, delta)
        ctx.ledger.flow(t, "new_unit_deals", a.seg, a.ch, 1)
        self.outcomes[a.id]["new_unit_arr"] += delta
        ctx.note(t, a.id, "new_unit_deal", a.seg, a.ch, delta)
