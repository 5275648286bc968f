"""What the track run and the track page both name: the units of the engine's monthly columns
and how ranks and probabilities are measured (apart from ``run`` so the page need not import it)."""

from __future__ import annotations

from typing import Any

from sim.kpis import COUNT, DAYS, FRAC, USD, fmt_unit

RANK_METHOD = ("mid-rank: (replications below + half the replications equal) / replications "
               "(scipy.stats.percentileofscore, kind='mean')")
PROBABILITY_METHOD = (
    "P(hit | actuals) = share of re-forecast replications whose path (the actual months, "
    "then that replication's remaining months) meets the target, measured as sim.analysis.metrics "
    "measures a plan; 95% Wilson interval. At plan: share of the plan's replications.")

COUNTS = ("customers", "new_customers", "churned_customers", "leads", "opportunities",
          "deals_won", "deals_lost", "deals_lost_price", "leads_lost_waiting", "new_unit_deals",
          "onboardings_started", "ae_starts", "ae_starts_waited", "onboardings_waited",
          "headcount_ae", "headcount_sdr", "headcount_csm", "headcount_onboarding",
          "headcount_management", "ae_capacity_slots", "active_partners")
FRACTIONS = ("ae_utilization", "onboarding_utilization", "cs_coverage_factor")


def metric_unit(metric: str) -> str:
    """The unit of an engine monthly column (sim.kpis units)."""
    if metric in COUNTS:
        return COUNT
    if metric in FRACTIONS:
        return FRAC
    if "days" in metric:
        return DAYS
    return USD


def fmt_metric(metric: str, value: Any) -> str:
    return fmt_unit(metric_unit(metric), value)
