"""The things the engine moves around: a prospect (an opportunity's draws), an account (a
customer) and the elastic resource that AEs and onboarding specialists are."""

from __future__ import annotations

import simpy


class ElasticResource(simpy.Resource):
    """A Resource whose capacity follows the staffing plan. Shrinking never interrupts work
    in progress; it only stops new work from starting until users fall below capacity.

    It implements SimPy's documented extension hooks for resources (``_do_put``,
    ``_do_get``) and keeps its own slot count instead of writing SimPy's. Users are kept in a
    dict (O(1) release instead of a list scan of hundreds of deals), and ``release_now``
    frees a slot without scheduling a Release event: the next request in the queue is
    granted at the same instant, as with ``release``.
    """

    def __init__(self, env: simpy.Environment, slots: int):
        super().__init__(env, capacity=max(1, slots))  # SimPy refuses a capacity of 0
        self.users = {}
        self._slots = 0
        self.set_capacity(slots)

    @property
    def capacity(self) -> int:
        return self._slots

    def _do_put(self, request) -> None:
        if len(self.users) < self._slots:
            self.users[request] = None
            request.succeed()

    def _do_get(self, release) -> None:
        self.users.pop(release.request, None)
        release.succeed()

    def take_free_slot(self) -> object | None:
        """A slot taken now without a Request event when one is free and nobody queues
        (what ``request()`` would grant at once), else None. Release it with
        ``release_now``."""
        if self.put_queue or len(self.users) >= self._slots:
            return None
        slot = object()
        self.users[slot] = None
        return slot

    def release_now(self, request) -> None:
        self.users.pop(request, None)
        self._grant_waiting()

    def set_capacity(self, slots: int) -> None:
        self._slots = max(0, int(slots))
        self._grant_waiting()

    def _grant_waiting(self) -> None:
        """Grant queued requests, first come first served, while slots are free (what
        SimPy's own put trigger does, one request at a time)."""
        while self.put_queue and len(self.users) < self._slots:
            request = self.put_queue.pop(0)
            self.users[request] = None
            request.succeed()


class Prospect:
    """An opportunity's draws, fixed at arrival from its channel-segment streams."""

    __slots__ = ("seg", "ch", "arrival_t", "wtp_usd", "seats", "win_draw", "cycle_days",
                 "patience_days", "contract_index", "onboarding_days", "account_seed", "deal")

    def __init__(self, seg, ch, arrival_t, wtp_usd, seats, win_draw, cycle_days, patience_days,
                 contract_index, onboarding_days, account_seed, deal):
        self.seg, self.ch, self.arrival_t = seg, ch, arrival_t
        self.wtp_usd, self.seats, self.win_draw = wtp_usd, seats, win_draw
        self.cycle_days, self.patience_days = cycle_days, patience_days
        self.contract_index, self.onboarding_days = contract_index, onboarding_days
        self.account_seed = account_seed
        self.deal = deal  # the negotiation's draws (``sim.engine.deals.DealDraws``)


class Account:
    """A customer. Plain attributes (``__slots__``) because there are thousands.

    Times are in days from the start; ``seg`` and ``ch`` are indexes (``sim.units.Channel``).
    """

    __slots__ = (
        "id", "seg", "ch", "cohort", "seats", "price", "arr", "wtp", "churn_propensity",
        "term_months", "annual_billing", "start_t", "term_end", "next_bill", "next_expansion",
        "last_uplift_t", "ttv_days",
        "rng",  # renewal, churn and contraction draws
        "expansion_rng",  # expansion draws, a stream of its own
        "partner_window_end",  # end of the partner's commission window; -1 when none is open
        "active", "stake", "churn_at",
        "option_i", "first_t",  # contract option; day of the first contract (may be < 0)
    )
