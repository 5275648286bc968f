"""What binds: which limit holds a plan back, read from its tables.

Each check turns the tables of all replications (means over the horizon and the runs) into a
*pressure*: 1 at the threshold below, more when the limit is tighter. A check at pressure
>= 1 binds. The statement leads with the binding finding of highest pressure; cash, when it
binds, always leads (a plan that runs out of money is held back by it whatever else binds).

Checks and their thresholds (named constants below):

* **cash**: P(cash trough below the floor) against ``CASH_BREACH_PROB``.
* **sales capacity**, per team: AE utilisation against ``CAPACITY_UTIL``, or the share of
  its opportunities that went cold waiting for an AE against ``LOST_WAITING_SHARE``.
* **pipeline**, per team: AEs idle (utilisation at or below ``IDLE_UTIL``) with few leads
  lost: more AEs add little, more pipeline would sell. Pressure ``(1 - u) / (1 - IDLE_UTIL)``.
* **market (in-market cap)**, per segment: opportunities a month over the accounts in a
  buying window a month (``p A / 12``, ``sim.engine.market``). At saturation ``s`` an extra
  unit of qualified interest yields ``1 - s`` opportunities, so spend and SDRs pay less;
  threshold ``MARKET_SATURATION``.
* **contact pool** (outbound): outbound leads over what the SDRs would find on a fresh pool;
  below ``POOL_YIELD_MIN`` most attempts hit accounts cooling down.
* **onboarding**: specialists' utilisation against ``ONBOARDING_UTIL`` or the mean wait to
  start against ``ONBOARDING_WAIT_DAYS``.
* **customer-success coverage**: the churn multiplier of thin coverage above 1 by more than
  ``CS_FACTOR_EXCESS``.

Pure functions over DataFrames (no engine, no experiment objects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.kpis import fmt_usd

CASH_BREACH_PROB = 0.10
"""Cash binds when at least 10% of runs fall below the floor (or zero cash) at some month."""
CAPACITY_UTIL = 0.90
"""A team whose AEs are 90% busy on average queues its opportunities (a pooled queue's
waits grow steeply past ~90% busy)."""
LOST_WAITING_SHARE = 0.05
"""...or that loses 5% of its opportunities cold while they wait for an AE."""
IDLE_UTIL = 0.70
"""A team at or below 70% busy has idle AEs: pipeline, not AEs, limits its deals."""
MARKET_SATURATION = 0.50
"""Opportunities at half the in-market accounts: each extra unit of interest yields less than
half an opportunity."""
POOL_YIELD_MIN = 0.60
"""SDRs finding under 60% of a fresh pool's leads: the contact pool is worked out."""
ONBOARDING_UTIL = 0.90
"""Onboarding specialists 90% busy..."""
ONBOARDING_WAIT_DAYS = 14.0
"""...or new customers waiting two weeks on average before onboarding starts."""
CS_FACTOR_EXCESS = 0.10
"""Thin customer-success coverage raising churn by 10% or more."""

KINDS = ("cash", "sales_capacity", "pipeline", "market", "contact_pool", "onboarding",
         "cs_coverage")
"""Every kind of finding, in the order they are listed when pressures tie."""


@dataclass(frozen=True)
class Finding:
    """One check: its kind, the team or segment it is about ("" = the company), whether it
    binds, its pressure (>= 1 binds) and the numbers behind it."""

    kind: str
    where: str
    pressure: float
    text: str
    evidence: dict[str, float] = field(default_factory=dict)

    @property
    def binds(self) -> bool:
        return self.pressure >= 1.0

    def as_dict(self) -> dict:
        return {"kind": self.kind, "where": self.where, "binds": self.binds,
                "pressure": _round(self.pressure), "text": self.text,
                "evidence": {k: _round(v) for k, v in self.evidence.items()}}


def _round(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, 6)


def _mean(frame: pd.DataFrame, col: str) -> float:
    if frame.empty or col not in frame:
        return math.nan
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else math.nan


def _runs(frame: pd.DataFrame) -> int:
    return int(frame["replication"].nunique()) if "replication" in frame else 1


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.0%}"


def cash_finding(monthly: pd.DataFrame, floor: float) -> Finding:
    """P(cash trough < floor) over the runs, and the trough's median."""
    key = "replication" if "replication" in monthly else None
    troughs = (monthly.groupby(key)["cash_balance"].min().to_numpy(float) if key
               else np.array([monthly["cash_balance"].min()], float))
    p = float((troughs < floor).mean()) if len(troughs) else math.nan
    p50 = float(np.median(troughs)) if len(troughs) else math.nan
    text = (f"cash: trough P50 {fmt_usd(p50)}, {_pct(p)} of runs below "
            f"{fmt_usd(floor)}")
    return Finding("cash", "", p / CASH_BREACH_PROB if not math.isnan(p) else 0.0, text,
                   {"cash_trough_p50": p50, "prob_below_floor": p, "floor": float(floor)})


def team_findings(by_team: pd.DataFrame) -> list[Finding]:
    """Per team: sales capacity (busy AEs, leads lost waiting) or pipeline (idle AEs)."""
    out = []
    if by_team is None or by_team.empty:
        return out
    for team, t in by_team.groupby("team", sort=True):
        months = len(t) / _runs(t)
        slots = t["capacity_slots"].to_numpy(float)
        busy = (t["ae_utilization"].fillna(0.0).to_numpy(float) * slots).sum()
        util = busy / slots.sum() if slots.sum() > 0 else math.nan
        opps = float(t["opportunities"].sum())
        lost = float(t["leads_lost_waiting"].sum())
        lost_share = lost / opps if opps > 0 else 0.0
        lost_pm = lost / (months * _runs(t)) if months else 0.0
        own = float(t["opportunities_self_sourced"].sum()) if "opportunities_self_sourced" in t \
            else 0.0
        evidence = {"utilisation": util, "leads_lost_waiting_per_month": lost_pm,
                    "lost_waiting_share": lost_share,
                    "opportunities_per_month": opps / (months * _runs(t)) if months else 0.0,
                    "self_sourced_share": own / opps if opps > 0 else 0.0,
                    "ramped_ae": _mean(t, "ramped_ae")}
        if math.isnan(util):
            continue
        capacity = max(util / CAPACITY_UTIL, lost_share / LOST_WAITING_SHARE)
        if capacity >= 1.0 or util > IDLE_UTIL:
            out.append(Finding(
                "sales_capacity", str(team), capacity,
                f"{team} AEs: {_pct(util)} busy, {lost_pm:.1f} leads a month lost waiting",
                evidence))
        else:
            out.append(Finding(
                "pipeline", str(team), (1.0 - util) / (1.0 - IDLE_UTIL),
                f"{team} AEs wait for pipeline: {_pct(util)} busy, "
                f"{lost_pm:.1f} leads a month lost waiting", evidence))
    return out


def market_findings(by_segment: pd.DataFrame, segments: dict) -> list[Finding]:
    """Per segment: opportunities over in-market accounts (``segments``: name -> (market
    size in accounts, in-market share a year))."""
    out = []
    if by_segment is None or by_segment.empty:
        return out
    for seg, s in by_segment.groupby("segment", sort=True):
        if seg not in segments:
            continue
        size, frac = segments[seg]
        if frac is None:  # no in-market cap: nothing to saturate
            continue
        open_accounts = np.maximum(0.0, size - s["customers"].to_numpy(float))
        in_market = float((open_accounts * frac / 12).sum())
        opps = float(s["opportunities"].sum())
        sat = opps / in_market if in_market > 0 else (math.inf if opps > 0 else 0.0)
        out.append(Finding(
            "market", str(seg), sat / MARKET_SATURATION,
            f"{seg} market: opportunities reach {_pct(sat)} of the accounts in a buying "
            f"window", {"in_market_saturation": sat,
                        "in_market_accounts_per_month": in_market / (len(s) or 1),
                        "opportunities_per_month": opps / (len(s) or 1)}))
    return out


def pool_finding(by_channel: pd.DataFrame, fresh_leads_per_month: float) -> Finding | None:
    """Outbound leads over the SDRs' leads on a fresh pool (``fresh_leads_per_month``: the
    plan's SDRs x segment mix x fresh leads per SDR, summed over the horizon's months and
    divided by them)."""
    if by_channel is None or by_channel.empty or fresh_leads_per_month <= 0:
        return None
    o = by_channel[by_channel["channel"] == "outbound"]
    months = len(o) / _runs(o) if len(o) else 0
    if not months:
        return None
    leads = float(o["leads"].sum()) / (months * _runs(o))
    y = leads / fresh_leads_per_month
    pressure = (1.0 - y) / (1.0 - POOL_YIELD_MIN) if y < 1 else 0.0
    return Finding("contact_pool", "outbound", pressure,
                   f"outbound contact pool: SDRs find {_pct(y)} of a fresh pool's leads",
                   {"pool_yield": y, "outbound_leads_per_month": leads})


def onboarding_finding(monthly: pd.DataFrame) -> Finding:
    util = _mean(monthly, "onboarding_utilization")
    wait = _mean(monthly, "onboarding_wait_days")
    p = max(0.0 if math.isnan(util) else util / ONBOARDING_UTIL,
            0.0 if math.isnan(wait) else wait / ONBOARDING_WAIT_DAYS)
    return Finding("onboarding", "", p,
                   f"onboarding: {_pct(util)} busy, {0.0 if math.isnan(wait) else wait:.0f} "
                   f"days' wait", {"utilisation": util, "wait_days": wait})


def cs_finding(monthly: pd.DataFrame) -> Finding:
    f = _mean(monthly, "cs_coverage_factor")
    excess = 0.0 if math.isnan(f) else f - 1.0
    return Finding("cs_coverage", "", max(0.0, excess) / CS_FACTOR_EXCESS,
                   f"customer success: coverage multiplies churn by {f:.2f}"
                   if not math.isnan(f) else "customer success: n/a",
                   {"churn_factor": f})


def assess(monthly: pd.DataFrame, by_team: pd.DataFrame, by_segment: pd.DataFrame,
           by_channel: pd.DataFrame | None, scenario, floor: float = 0.0) -> list[Finding]:
    """Every check on one scenario's tables, the most pressing first (cash first when it
    binds)."""
    segments = {name: (seg.market_size_accounts, seg.in_market_per_year_frac)
                for name, seg in scenario.segments.items()}
    out = [cash_finding(monthly, floor), *team_findings(by_team),
           *market_findings(by_segment, segments), onboarding_finding(monthly),
           cs_finding(monthly)]
    pool = pool_finding(by_channel, fresh_outbound_leads(scenario, monthly))
    if pool is not None:
        out.append(pool)
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(out, key=lambda f: (not (f.kind == "cash" and f.binds), -f.pressure,
                                      order[f.kind], f.where))


def fresh_outbound_leads(scenario, monthly: pd.DataFrame) -> float:
    """Mean leads a month the plan's SDRs would find on a fresh pool."""
    out = scenario.channels.outbound
    per_sdr = sum(out.segment_mix.get(k, 0.0) * out.fresh_leads_per_sdr_per_month.get(k, 0.0)
                  for k in scenario.segments)
    return _mean(monthly, "headcount_sdr") * per_sdr if "headcount_sdr" in monthly else 0.0


def binding(findings: list[Finding]) -> Finding:
    """The finding that leads: the first of ``assess``'s order."""
    return findings[0]


def statement(findings: list[Finding], limit: int = 2) -> str:
    """One or two sentences: what binds (with its numbers), what else binds, and the
    team with most room when nothing does."""
    binds = [f for f in findings if f.binds]
    if not binds:
        top = findings[0]
        return f"Nothing binds hard; the closest limit is {top.text}."
    head = _phrase(binds[0])
    rest = "; ".join(_phrase(f) for f in binds[1:1 + limit])
    return f"What binds: {head}." + (f" Also binding: {rest}." if rest else "")


def _phrase(f: Finding) -> str:
    what = {"cash": "cash", "sales_capacity": "sales capacity", "pipeline": "pipeline",
            "market": "the in-market cap", "contact_pool": "the outbound contact pool",
            "onboarding": "onboarding capacity", "cs_coverage": "customer-success coverage"}
    return f"{what[f.kind]} ({f.text})"


def summary_entry(findings: list[Finding]) -> dict:
    """``binding_constraint`` in summary.json: the leading finding, its statement and every
    finding that binds."""
    top = binding(findings)
    return {**top.as_dict(), "statement": statement(findings),
            "binding": [f.as_dict() for f in findings if f.binds]}


def cash_floor(scenario) -> float:
    """The plan's cash floor: its strictest ``cash_floor`` target, else zero cash."""
    floors = [t.value for t in scenario.targets if t.metric == "cash_floor"]
    return float(max(floors)) if floors else 0.0


def of_result(result, floor: float | None = None) -> list[Finding]:
    """``assess`` on an ``ExperimentResult`` (anything with the four tables and a scenario),
    against the plan's cash floor unless ``floor`` is given."""
    floor = cash_floor(result.scenario) if floor is None else float(floor)
    return assess(result.monthly, result.by_team, result.by_segment,
                  getattr(result, "by_channel", None), result.scenario, floor)


def compare_statement(base_findings: list[Finding], plan_findings: list[Finding],
                      plan_name: str, base_name: str) -> str:
    """What binds in a plan against its base: the plan's statement, and whether its leading
    limit moved (e.g. a team from capacity to pipeline)."""
    b, p = binding(base_findings), binding(plan_findings)
    moved = (b.kind, b.where) != (p.kind, p.where) or b.binds != p.binds
    s = f"{plan_name}: {statement(plan_findings, limit=1)}"
    if moved:
        s += f" (in {base_name}: {_phrase(b) if b.binds else 'nothing binds hard'})"
    return s
