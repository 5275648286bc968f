"""The "Trust Enablement" account plan: stakeholders, champions, advocates, critics.

For accounts of the named segments the model keeps who is on our side. The champion may
leave (a gamma tenure with shape < 1, so the hazard is highest in the first months); without
a backup advocate the account must be re-sold: renewal odds fall and expansion stops for a
while. The account-plan programme (a cost per account per month) works on the top N accounts
by ARR: it adds advocates (multi-threading), wins critics over and turns proven accounts into
references that open "buy new" deals in other business units (counted as expansion).

All draws come from the model's own ``stakeholders`` and ``references`` streams, never from an
account's stream, so turning this on or off leaves every other random draw untouched.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.ledger import CHANNELS, MONTH_DAYS

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import Account, Model
    from sim.streams import Streams


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

    def __init__(self, model: Model, streams: Streams):
        self.model = model
        self.p = model.scenario.account_plan
        self.seg_ids = {i for i, n in enumerate(model.seg_names) if n in self.p.segments}
        self.rng = streams.python("stakeholders")
        self.rng_ref = streams.python("references")
        self.accounts: dict[int, Account] = {}
        # per-account outcomes for the programme evaluation, kept for every tracked account
        self.outcomes: dict[int, dict] = {}

    # -- lifecycle hooks called by the model --------------------------------------------------

    def attach(self, a: Account, t: float) -> None:
        if a.seg not in self.seg_ids:
            return
        p, rng = self.p, self.rng
        st = Stake()
        others = p.stakeholders_per_account - 1
        st.advocates = min(p.initial_advocates, others)
        rest = others - st.advocates
        st.critics = sum(1 for _ in range(rest) if rng.random() < p.critic_prob_frac)
        st.others = rest - st.critics
        # installed accounts are past their first months: their champion's clock started earlier
        started = a.start_t if a.ch != 3 else a.start_t - rng.random() * 12 * MONTH_DAYS
        st.champion_leaves_t = max(t, started + p.champion_tenure_months.sample(rng) * MONTH_DAYS)
        a.stake = st
        self.accounts[a.id] = a
        self.outcomes[a.id] = {"account": a.id, "segment": self.model.seg_names[a.seg],
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

    def table(self):
        """One row per tracked account: renewals, ARR at programme entry and at the end."""
        import pandas as pd

        rows = []
        for out in self.outcomes.values():
            row = dict(out)
            row["arr_by_month"] = dict(out.get("arr_by_month", {}))
            row["arr_month1"] = row["arr_by_month"].get(1, math.nan)
            rows.append(row)
        return pd.DataFrame(rows)


    def renewal(self, a: Account, renewed: bool) -> None:
        out = self.outcomes.get(a.id)
        if out is not None:
            out["renewals"] += 1
            out["renewed"] += int(renewed)

    # -- effects on health --------------------------------------------------------------------

    def _settle(self, a: Account, t: float) -> None:
        """Process champion departures up to time t (lazily, in order)."""
        st, p = a.stake, self.p
        while st.champion_leaves_t <= t:
            when = st.champion_leaves_t
            out = self.outcomes[a.id]
            out["champion_departures"] += 1
            backed = st.advocates > 0
            if backed:
                st.advocates -= 1  # an advocate becomes the new champion
                nxt = when
            else:
                out["unbacked_departures"] += 1
                st.unbacked_until = when + p.resell_months * MONTH_DAYS
                nxt = st.unbacked_until  # re-sold: a new champion once the re-sale is done
            st.champion_leaves_t = nxt + p.champion_tenure_months.sample(self.rng) * MONTH_DAYS
            log = self.model.log
            if log is not None:
                log.add(when, a.id, "champion_departure", self.model.seg_names[a.seg],
                        CHANNELS[a.ch], 0.0, "backed" if backed else "no backup")

    def churn_factor(self, a: Account, t: float) -> float:
        """Churn multiplier (part of health): advocates lower it, unconverted critics raise
        it. Multi-threaded accounts also expand faster, as health drives expansion."""
        self._settle(a, t)
        st, p = a.stake, self.p
        f = max(0.3, 1.0 - p.advocate_renewal_lift_frac * st.advocates)
        return f * (1.0 + p.critic_churn_uplift_frac * st.critics)

    def renewal_factor(self, a: Account, t: float) -> float:
        """Multiplier on the renewal probability: ``no_backup_renewal_factor`` while an account
        whose champion left without a backup is being re-sold, else 1."""
        self._settle(a, t)
        return self.p.no_backup_renewal_factor if t < a.stake.unbacked_until else 1.0

    def may_expand(self, a: Account, t: float) -> bool:
        self._settle(a, t)
        return t >= a.stake.unbacked_until

    # -- the programme, once a month -----------------------------------------------------------

    def monthly(self, t: float, month: int) -> None:
        p, model, L = self.p, self.model, self.model.ledger
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
            st, out = a.stake, self.outcomes[a.id]
            if out["entry_month"] is None:
                out["entry_month"] = month
                out["arr_at_entry"] = a.arr
            out["programme_months"] += 1
            L.flow(t, "programme_cost", a.seg, a.ch, p.programme_cost_per_account_per_month_usd)
            name, ch = model.seg_names[a.seg], CHANNELS[a.ch]
            # multi-threading: convert neutral stakeholders into advocates
            if st.others > 0 and rng.random() < p.advocate_add_rate_per_year / 12:
                st.others -= 1
                st.advocates += 1
                if model.log is not None:
                    model.log.add(t, a.id, "advocate_added", name, ch, 0.0, "")
            if st.critics > 0 and rng.random() < p.critic_win_rate_per_year / 12:
                st.critics -= 1
                st.advocates += 1
                if model.log is not None:
                    model.log.add(t, a.id, "critic_won", name, ch, 0.0, "")
            proven = st.advocates >= 2 and (a.ttv_days is not None)
            if proven and rng.random() < p.reference_rate_per_year / 12:
                if model.log is not None:
                    model.log.add(t, a.id, "reference_made", name, ch, 0.0, "")
                model.env.process(self._new_unit_deal(a))

    def _new_unit_deal(self, a: Account):
        """A reference opens a deal in another business unit: short cycle, high win rate."""
        p, model, rng = self.p, self.model, self.rng_ref
        cycle = p.new_unit_cycle_days.sample(rng)
        won = rng.random() < p.new_unit_win_prob_frac
        frac = p.new_unit_arr_frac.sample(rng)
        yield model.env.timeout(cycle)
        t = model.env.now
        if not won or not a.active:
            return
        delta = a.arr * frac
        if delta <= 0:
            return
        model.expand(a, t, delta, "new_unit")
        model.ledger.flow(t, "new_unit_arr", a.seg, a.ch, delta)
        model.ledger.flow(t, "new_unit_deals", a.seg, a.ch, 1)
        self.outcomes[a.id]["new_unit_arr"] += delta
        if model.log is not None:
            model.log.add(t, a.id, "new_unit_deal", model.seg_names[a.seg], CHANNELS[a.ch],
                          delta, "")
