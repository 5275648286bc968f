"""Onboarding: the specialists' team (capacity follows the ramped headcount) and the
onboarding of each new customer, whose time to value feeds its health."""

from __future__ import annotations

from collections.abc import Callable

from sim.engine.context import Context
from sim.engine.entities import Account, ElasticResource
from sim.engine.plan import effective_headcount

CAPACITY_TOLERANCE = 1e-9  # 2.9999999 project slots from float ramps count as 3


class OnboardingTeam:
    """The onboarding specialists and their queue of new customers."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        slots = self.capacity_in(1)
        self.resource = ElasticResource(ctx.env, slots)
        ctx.ledger.onb_capacity.set(0.0, slots)
        # catches the customers' lifecycle calendar up to a time (set by the model): an
        # account's life events before its onboarding ends see it still onboarding
        self.sync: Callable[[float], None] = lambda t: None

    def capacity_in(self, month: int) -> int:
        """Concurrent projects the team can run in a 1-based month."""
        s = self.ctx.scenario
        specialists = effective_headcount(s.headcount.onboarding, month)
        return int(specialists * s.onboarding.concurrent_projects_per_specialist
                   + CAPACITY_TOLERANCE)

    def restaff(self, t: float, month: int) -> None:
        slots = self.capacity_in(month)
        self.ctx.ledger.onb_capacity.set(t, slots)
        self.resource.set_capacity(slots)

    def onboard(self, a: Account, duration_days: float):
        """SimPy process: wait for a specialist, onboard, record the time to value."""
        signed = self.ctx.env.now
        yield from self._project(a.seg, a.ch, duration_days)
        end = self.ctx.env.now
        self.sync(end)
        a.ttv_days = end - signed
        if self.ctx.log is not None:
            self.ctx.note(end, a.id, "onboarded", a.seg, a.ch, 0.0, f"ttv {a.ttv_days:.1f} d")

    def onboard_before_start(self, seg: int, ch: int, duration_days: float):
        """SimPy process: the onboarding of a deal won in the pipeline warm-up (its account is
        in the installed base): it only occupies a specialist."""
        yield from self._project(seg, ch, duration_days)

    def _project(self, seg: int, ch: int, duration_days: float):
        """Wait for a specialist, then work the project; waits and busy days from day 0."""
        env, ledger = self.ctx.env, self.ctx.ledger
        asked = env.now
        req = self.resource.request()
        yield req
        start = env.now
        ledger.wait(ledger.onb_wait, start, start - asked)
        ledger.onb_busy.add(start, 1)
        yield env.timeout(duration_days)
        self.resource.release(req)
        end = env.now
        ledger.onb_busy.add(end, -1)
        ledger.spread(start, end, "onboarding_busy_days", seg, ch)
