"""Ledger → tables: the monthly, by-segment, by-channel, by-team and cohort tables of one
replication, the event log and the account-plan outcomes, as pandas frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.engine.events import EventLog
from sim.engine.ledger import Ledger
from sim.engine.plan import ROLES, MonthlyPlan
from sim.scenario.model import Scenario
from sim.units import CHANNELS, LEAD_CHANNELS, MONTH_DAYS, YEAR_DAYS, Channel
from sim.units import CohortMeasure as CM


def allocate(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split a monthly total across the last axis of ``weights`` in proportion; equal split
    in a month whose weights are all zero."""
    w = np.asarray(weights, dtype=float)
    sums = w.sum(axis=-1, keepdims=True)
    n = w.shape[-1]
    shares = np.where(sums > 0, w / np.where(sums > 0, sums, 1.0), 1.0 / n)
    return total[:, None] * shares


def safe_div(a, b):
    """a / b with NaN where b is 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.full(np.broadcast(a, b).shape, math.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def build_tables(ledger: Ledger, scenario: Scenario, plan: MonthlyPlan,
                 initial: dict) -> dict[str, pd.DataFrame]:
    """Monthly, by-segment, by-channel, by-team and cohort tables from the accumulators; the
    planned cost lines come from ``plan``, the cost of serving from the scenario."""
    cells = cell_measures(ledger, scenario, plan)
    return {
        "monthly": monthly_table(ledger, plan, cells, initial),
        "by_segment": long_table(cells, 2, "segment", ledger.segments),
        "by_channel": long_table(cells, 1, "channel", CHANNELS, extra=CHANNEL_COLUMNS),
        "by_team": team_table(ledger, scenario, plan, cells),
        "cohorts": cohort_table(ledger, initial),
    }


def cell_measures(ledger: Ledger, scenario: Scenario, plan: MonthlyPlan) -> dict[str, np.ndarray]:
    """Every measure per (month, segment, channel): flows, month-end levels, revenue and
    billings from the integrated levels, cost of serving, and the plan's shared costs
    allocated to cells (inbound marketing by each segment's share of spend, partner programme
    by referrals, SDRs by each segment's share of effort, each sales team's AEs over its own
    segments by busy days, CSMs by required coverage, onboarding by busy days)."""
    horizon = ledger.horizon
    segments = [scenario.segments[name] for name in ledger.segments]
    shape = ledger.shape
    f = ledger.flows
    revenue = ledger.integral("arr") / YEAR_DAYS
    customer_months = ledger.integral("customers") / MONTH_DAYS
    billings = f["annual_billings"] + ledger.integral("monthly_billed_arr") / YEAR_DAYS
    partner_cost = (scenario.channels.partner.commission_frac
                    * ledger.integral("partner_window_arr") / YEAR_DAYS)
    serve = np.asarray([seg.cost_to_serve_per_month_usd for seg in segments])[None, :, None]
    cogs = (serve * customer_months + scenario.costs.hosting_support_frac_of_revenue * revenue
            + scenario.costs.payment_fee_frac_of_billings * billings)
    costs = {line: np.asarray(values, dtype=float) for line, values in plan.costs_usd.items()}

    leads = f["leads"]
    marketing = np.zeros(shape)
    # inbound spend and SDR effort are assigned to segments: each segment pays its own share
    inbound, outbound = scenario.channels.inbound, scenario.channels.outbound
    spend_w = np.asarray([[inbound.segment_mix.get(n, 0.0) for n in ledger.segments]])
    effort_w = np.asarray([[outbound.segment_mix.get(n, 0.0) for n in ledger.segments]])
    marketing[:, :, Channel.INBOUND] = allocate(costs["marketing_programs"],
                                                np.repeat(spend_w, horizon, axis=0))
    marketing[:, :, Channel.PARTNER] = allocate(costs["partner_program"],
                                                leads[:, :, Channel.PARTNER])
    sales = np.zeros(shape)
    sales[:, :, Channel.OUTBOUND] += allocate(costs["sdr"], np.repeat(effort_w, horizon, axis=0))
    # each team's AEs are paid by the segments and channels it worked, by busy days; a month
    # with no busy day splits evenly over the team's segments and lead channels
    busy = f["ae_busy_days"]
    lead_channels = list(LEAD_CHANNELS)
    months = range(horizon)
    for name, team in scenario.sales.teams.items():
        segs = [ledger.segments.index(n) for n in team.segments]
        w = np.zeros(shape)
        w[np.ix_(months, segs, lead_channels)] = busy[np.ix_(months, segs, lead_channels)]
        idle = np.flatnonzero(w.sum(axis=(1, 2)) == 0)
        w[np.ix_(idle, segs, lead_channels)] = 1.0
        team_cost = np.asarray(plan.team_costs_usd[name], dtype=float)
        sales += allocate(team_cost, w.reshape(horizon, -1)).reshape(shape)
    sales += f["sales_commission"]
    csm_target = np.asarray([seg.accounts_per_csm_target for seg in segments])
    required_csms = customer_months / csm_target[None, :, None]
    cs = allocate(costs["csm"], required_csms.reshape(horizon, -1)).reshape(shape)
    cs += allocate(costs["onboarding"],
                   f["onboarding_busy_days"].reshape(horizon, -1)).reshape(shape)
    cs += f["programme_cost"]
    return {
        **f,
        "customers": ledger.end_values("customers"), "arr": ledger.end_values("arr"),
        "revenue": revenue, "billings": billings, "cogs": cogs, "gross_profit": revenue - cogs,
        "marketing_cost": marketing, "sales_cost": sales, "customer_success_cost": cs,
        "partner_cost": partner_cost, "customer_months": customer_months,
    }


MONTHLY_TOTALS = (
    "customers", "new_customers", "churned_customers", "arr", "new_arr", "expansion_arr",
    "contraction_arr", "churned_arr", "revenue", "billings", "cash_collected", "cogs",
    "marketing_cost", "sales_cost", "sales_commission", "customer_success_cost", "partner_cost",
)
MONTHLY_FUNNEL = (
    "leads", "opportunities", "deals_won", "deals_lost", "deals_lost_price",
    "leads_lost_waiting", "list_arr_won", "discount_usd", "sales_cycle_days_sum",
    "new_unit_arr", "new_unit_deals",
    # the pocket-price waterfall and the negotiation (sim.engine.sales)
    "term_discount_usd", "rep_discount_usd", "quarter_end_discount_usd", "price_leak_usd",
    "deals_slipped", "negotiation_rounds_sum",
    "opportunities_self_sourced",  # AE prospecting (sim.engine.sales.SalesTeam.prospecting)
)
CELL_COLUMNS = (
    "customers", "new_customers", "churned_customers", "arr", "new_arr", "expansion_arr",
    "contraction_arr", "churned_arr", "revenue", "billings", "cogs", "gross_profit", "leads",
    "opportunities", "deals_won", "deals_lost", "leads_lost_waiting", "list_arr_won",
    "discount_usd", "marketing_cost", "sales_cost", "customer_success_cost", "partner_cost",
    "customer_months", "sales_commission", "term_discount_usd", "rep_discount_usd",
    "quarter_end_discount_usd", "price_leak_usd",
)


def monthly_table(ledger: Ledger, plan: MonthlyPlan, cells: dict[str, np.ndarray],
                  initial: dict) -> pd.DataFrame:
    """One row a month: totals, P&L, cash, funnel, utilisation and the plan's headcount."""
    costs = plan.costs_usd
    m = {"month": np.arange(1, ledger.horizon + 1)}
    m.update({col: cells[col].sum(axis=(1, 2)) for col in MONTHLY_TOTALS})
    m["other_opex"] = (np.asarray(costs["management"], dtype=float)
                       + np.asarray(costs["fixed_opex"], dtype=float))
    m["gross_profit"] = m["revenue"] - m["cogs"]
    m["total_cost"] = (m["cogs"] + m["marketing_cost"] + m["sales_cost"]
                       + m["customer_success_cost"] + m["partner_cost"] + m["other_opex"])
    m["operating_profit"] = m["revenue"] - m["total_cost"]
    m["cash_balance"] = initial["cash_balance"] + np.cumsum(m["cash_collected"] - m["total_cost"])
    m["deferred_revenue"] = initial["deferred_revenue"] + np.cumsum(m["billings"] - m["revenue"])
    m["accounts_receivable"] = initial.get("accounts_receivable", 0.0) + np.cumsum(
        m["billings"] - m["cash_collected"])
    m.update({col: cells[col].sum(axis=(1, 2)) for col in MONTHLY_FUNNEL})
    m["account_plan_cost"] = cells["programme_cost"].sum(axis=(1, 2))
    m["ae_utilization"] = safe_div(ledger.ae_busy.integral, ledger.ae_capacity.integral)
    m["ae_wait_days"] = safe_div(ledger.ae_wait[:, 0], ledger.ae_wait[:, 1])
    m["onboarding_utilization"] = safe_div(ledger.onb_busy.integral, ledger.onb_capacity.integral)
    m["onboarding_wait_days"] = safe_div(ledger.onb_wait[:, 0], ledger.onb_wait[:, 1])
    m["onboardings_started"] = ledger.onb_wait[:, 1]
    # queues: starts of service, their total wait and how many waited at all, so mean waits,
    # probabilities of waiting and Little's law can be read from the table
    m["ae_starts"] = ledger.ae_wait[:, 1]
    m["ae_wait_days_total"] = ledger.ae_wait[:, 0]
    m["ae_starts_waited"] = ledger.ae_wait[:, 2]
    m["onboarding_wait_days_total"] = ledger.onb_wait[:, 0]
    m["onboardings_waited"] = ledger.onb_wait[:, 2]
    for role in ROLES:
        m[f"headcount_{role}"] = np.asarray(plan.headcount[role], dtype=float)
    m["ae_capacity_slots"] = np.asarray(ledger.ae_capacity_slots, dtype=float)
    m["active_partners"] = np.asarray(plan.active_partners, dtype=float)
    m["cs_coverage_factor"] = np.asarray(ledger.cs_coverage_factor, dtype=float)
    monthly = pd.DataFrame(m)
    monthly.attrs["initial"] = dict(initial)
    return monthly


CHANNEL_COLUMNS = ("repricing_arr",)
"""Measures only the by-channel table carries: the price steps at renewal inside
``expansion_arr`` (the profit bridge's repricing line, ``sim.analysis.bridge``)."""


def long_table(cells: dict[str, np.ndarray], axis_summed: int, label: str,
               names, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per month and segment (``axis_summed=2``) or channel (``axis_summed=1``),
    with ``extra`` measures after the shared ones."""
    months = np.arange(1, next(iter(cells.values())).shape[0] + 1)
    parts = []
    for i, name in enumerate(names):
        cols = {"month": months, label: name}
        for key in (*CELL_COLUMNS, *extra):
            cols[key] = cells[key].sum(axis=axis_summed)[:, i]
        parts.append(pd.DataFrame(cols))
    return pd.concat(parts, ignore_index=True).sort_values(["month", label], ignore_index=True)


def cohort_table(ledger: Ledger, initial: dict) -> pd.DataFrame:
    """One row per cohort (0 = installed base, else the month won) and month since."""
    horizon = ledger.horizon
    rows = []
    c = ledger.cohort
    for k in range(horizon + 1):
        if k > 0 and c[k, k - 1, CM.NEW_CUSTOMERS] == 0:
            continue
        net = (c[k, :, CM.NEW_ARR] + c[k, :, CM.EXPANSION_ARR] - c[k, :, CM.CONTRACTION_ARR]
               - c[k, :, CM.CHURNED_ARR])
        arr = np.cumsum(net) + (initial["arr"] if k == 0 else 0.0)
        customers = (np.cumsum(c[k, :, CM.NEW_CUSTOMERS] - c[k, :, CM.CHURNED_CUSTOMERS])
                     + (initial["customers"] if k == 0 else 0.0))
        for month in range(max(k, 1), horizon + 1):
            rows.append((k, month, customers[month - 1], arr[month - 1],
                         *c[k, month - 1, CM.NEW_ARR:CM.NEW_CUSTOMERS]))
    return pd.DataFrame(rows, columns=[
        "cohort_month", "month", "customers", "arr", "new_arr", "expansion_arr",
        "contraction_arr", "churned_arr", "churned_customers"])



def team_table(L: Ledger, scenario: Scenario, plan: MonthlyPlan,
               flows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per sales team and month: headcount, ramped AEs, cost, deal slots, utilisation, mean
    wait for an AE, opportunities (and those its AEs sourced, with the share of ramped AE
    time spent prospecting), leads lost waiting, deals and new ARR won, and quota
    attainment (new ARR / the quota of the month's ramped AE-months)."""
    months = np.arange(1, L.horizon + 1)
    parts = []
    for j, (name, team) in enumerate(scenario.sales.teams.items()):
        segs = [L.segments.index(n) for n in team.segments]

        def total(col, segs=segs):
            return flows[col][:, segs, :].sum(axis=(1, 2))

        ramped = np.asarray(L.team_productivity[j].integral) / MONTH_DAYS
        quota = ramped * team.quota_new_arr_per_year_usd / 12
        wait = L.team_wait[j]
        parts.append(pd.DataFrame({
            "month": months,
            "team": name,
            "headcount_ae": np.asarray(plan.team_headcount[name], dtype=float),
            "ramped_ae": ramped,
            "ae_cost": np.asarray(plan.team_costs_usd[name], dtype=float),
            "capacity_slots": np.asarray(L.team_capacity[j].integral) / MONTH_DAYS,
            "ae_utilization": safe_div(L.team_busy[j].integral, L.team_capacity[j].integral),
            "ae_wait_days": safe_div(wait[:, 0], wait[:, 1]),
            "opportunities": total("opportunities"),
            "opportunities_started": wait[:, 1],
            "opportunities_self_sourced": total("opportunities_self_sourced"),
            "prospecting_time_frac": np.asarray(L.team_prospecting[j], dtype=float),
            "leads_lost_waiting": total("leads_lost_waiting"),
            "deals_won": total("deals_won"),
            "new_arr": total("new_arr"),
            "quota_usd": quota,
            "quota_attainment": safe_div(total("new_arr"), quota),
        }))
    return pd.concat(parts, ignore_index=True).sort_values(["month", "team"], ignore_index=True)

def events_table(log: EventLog, horizon_days: float) -> pd.DataFrame:
    """The event log as a frame with a 1-based month column, events before the horizon only."""
    df = pd.DataFrame(log.records, columns=log.columns)
    df = df[df["time_days"] < horizon_days].reset_index(drop=True)
    df.insert(1, "month", (df["time_days"] // MONTH_DAYS).astype(int) + 1)
    return df


def accounts_table(outcomes: dict[int, dict]) -> pd.DataFrame:
    """One row per account the account-plan model tracked: renewals, ARR at programme entry
    and at the end, ARR by month."""
    rows = []
    for out in outcomes.values():
        row = dict(out)
        row["arr_by_month"] = dict(out.get("arr_by_month", {}))
        row["arr_month1"] = row["arr_by_month"].get(1, math.nan)
        rows.append(row)
    return pd.DataFrame(rows)
