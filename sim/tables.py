"""Ledger → tables: the monthly, by-segment, by-channel, by-team and cohort tables of one
replication, the event log and the account-plan outcomes, as pandas frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.engine.events import EventLog
from sim.engine.ledger import Ledger
from sim.engine.plan import ROLES, MonthlyPlan
from sim.scenario import Scenario
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
    """Monthly, by-segment, by-channel and cohort tables from the accumulators; the planned
    cost lines come from ``plan``, the cost of serving from the scenario."""
    L = ledger
    H = L.horizon
    seg_names = L.segments
    segments = [scenario.segments[name] for name in seg_names]
    n_seg = len(seg_names)
    f = L.flows
    revenue = L.integral("arr") / YEAR_DAYS
    cust_months = L.integral("customers") / MONTH_DAYS
    monthly_billings = L.integral("monthly_billed_arr") / YEAR_DAYS
    billings = f["annual_billings"] + monthly_billings
    partner_cost = (scenario.channels.partner.commission_frac
                    * L.integral("partner_window_arr") / YEAR_DAYS)
    serve = np.asarray([seg.cost_to_serve_per_month_usd for seg in segments])[None, :, None]
    cogs = (serve * cust_months + scenario.costs.hosting_support_frac_of_revenue * revenue
            + scenario.costs.payment_fee_frac_of_billings * billings)
    arr_end = L.end_values("arr")
    cust_end = L.end_values("customers")
    costs = {line: np.asarray(values, dtype=float) for line, values in plan.costs_usd.items()}
    commission = f["sales_commission"]
    programme = f["programme_cost"]

    # -- allocation of shared costs to (segment, channel) -----------------------------------
    n_ch = len(CHANNELS)
    shape = (H, n_seg, n_ch)
    marketing = np.zeros(shape)
    leads = f["leads"]
    # inbound spend and SDR effort are assigned to segments: each segment pays its own share
    inbound, outbound = scenario.channels.inbound, scenario.channels.outbound
    spend_w = np.asarray([inbound.segment_mix.get(n, 0.0) for n in seg_names])[None, :]
    effort_w = np.asarray([outbound.segment_mix.get(n, 0.0) for n in seg_names])[None, :]
    marketing[:, :, Channel.INBOUND] = allocate(costs["marketing_programs"],
                                                np.repeat(spend_w, H, axis=0))
    marketing[:, :, Channel.PARTNER] = allocate(costs["partner_program"],
                                                leads[:, :, Channel.PARTNER])
    sales = np.zeros(shape)
    sales[:, :, Channel.OUTBOUND] += allocate(costs["sdr"], np.repeat(effort_w, H, axis=0))
    # each team's AEs are paid by the segments and channels it worked, by busy days; a month
    # with no busy day splits evenly over the team's segments and lead channels
    busy = f["ae_busy_days"]
    lead_channels = list(LEAD_CHANNELS)
    for name, team in scenario.sales.teams.items():
        segs = [seg_names.index(n) for n in team.segments]
        w = np.zeros(shape)
        w[np.ix_(range(H), segs, lead_channels)] = busy[np.ix_(range(H), segs, lead_channels)]
        idle = np.flatnonzero(w.sum(axis=(1, 2)) == 0)
        w[np.ix_(idle, segs, lead_channels)] = 1.0
        team_cost = np.asarray(plan.team_costs_usd[name], dtype=float)
        sales += allocate(team_cost, w.reshape(H, -1)).reshape(shape)
    sales += commission
    csm_target = np.asarray([seg.accounts_per_csm_target for seg in segments])
    csm_w = cust_months / csm_target[None, :, None]
    cs = allocate(costs["csm"], csm_w.reshape(H, -1)).reshape(shape)
    cs += allocate(costs["onboarding"], f["onboarding_busy_days"].reshape(H, -1)).reshape(shape)
    cs += programme
    other = costs["management"] + costs["fixed_opex"]

    def tot(a):
        return a.sum(axis=(1, 2))

    months = np.arange(1, H + 1)
    m = {
        "month": months,
        "customers": tot(cust_end),
        "new_customers": tot(f["new_customers"]),
        "churned_customers": tot(f["churned_customers"]),
        "arr": tot(arr_end),
        "new_arr": tot(f["new_arr"]),
        "expansion_arr": tot(f["expansion_arr"]),
        "contraction_arr": tot(f["contraction_arr"]),
        "churned_arr": tot(f["churned_arr"]),
        "revenue": tot(revenue),
        "billings": tot(billings),
        "cash_collected": tot(f["cash_collected"]),
        "cogs": tot(cogs),
        "marketing_cost": tot(marketing),
        "sales_cost": tot(sales),
        "sales_commission": tot(commission),
        "customer_success_cost": tot(cs),
        "partner_cost": tot(partner_cost),
        "other_opex": other,
    }
    m["gross_profit"] = m["revenue"] - m["cogs"]
    m["total_cost"] = (m["cogs"] + m["marketing_cost"] + m["sales_cost"]
                       + m["customer_success_cost"] + m["partner_cost"] + m["other_opex"])
    m["operating_profit"] = m["revenue"] - m["total_cost"]
    m["cash_balance"] = initial["cash_balance"] + np.cumsum(m["cash_collected"] - m["total_cost"])
    m["deferred_revenue"] = initial["deferred_revenue"] + np.cumsum(m["billings"] - m["revenue"])
    m["accounts_receivable"] = np.cumsum(m["billings"] - m["cash_collected"])
    for col in ("leads", "opportunities", "deals_won", "deals_lost", "deals_lost_price",
                "leads_lost_waiting", "list_arr_won", "discount_usd", "sales_cycle_days_sum",
                "new_unit_arr", "new_unit_deals"):
        m[col] = tot(f[col])
    m["account_plan_cost"] = tot(programme)
    m["ae_utilization"] = safe_div(L.ae_busy.integral, L.ae_capacity.integral)
    m["ae_wait_days"] = safe_div(L.ae_wait[:, 0], L.ae_wait[:, 1])
    m["onboarding_utilization"] = safe_div(L.onb_busy.integral, L.onb_capacity.integral)
    m["onboarding_wait_days"] = safe_div(L.onb_wait[:, 0], L.onb_wait[:, 1])
    m["onboardings_started"] = L.onb_wait[:, 1]
    for role in ROLES:
        m[f"headcount_{role}"] = np.asarray(plan.headcount[role], dtype=float)
    m["ae_capacity_slots"] = np.asarray(L.ae_capacity_slots, dtype=float)
    m["active_partners"] = np.asarray(plan.active_partners, dtype=float)
    m["cs_coverage_factor"] = np.asarray(L.cs_coverage_factor, dtype=float)
    monthly = pd.DataFrame(m)
    monthly.attrs["initial"] = dict(initial)

    per = {
        "customers": cust_end, "new_customers": f["new_customers"],
        "churned_customers": f["churned_customers"], "arr": arr_end, "new_arr": f["new_arr"],
        "expansion_arr": f["expansion_arr"], "contraction_arr": f["contraction_arr"],
        "churned_arr": f["churned_arr"], "revenue": revenue, "billings": billings, "cogs": cogs,
        "gross_profit": revenue - cogs, "leads": f["leads"], "opportunities": f["opportunities"],
        "deals_won": f["deals_won"], "deals_lost": f["deals_lost"],
        "leads_lost_waiting": f["leads_lost_waiting"], "list_arr_won": f["list_arr_won"],
        "discount_usd": f["discount_usd"], "marketing_cost": marketing, "sales_cost": sales,
        "customer_success_cost": cs, "partner_cost": partner_cost,
        "customer_months": cust_months,
    }

    def long(axis_sum: int, label: str, names) -> pd.DataFrame:
        parts = []
        for i, name in enumerate(names):
            cols = {"month": months, label: name}
            for key, arr in per.items():
                cols[key] = arr.sum(axis=axis_sum)[:, i]
            parts.append(pd.DataFrame(cols))
        return pd.concat(parts, ignore_index=True).sort_values(["month", label],
                                                               ignore_index=True)

    by_segment = long(2, "segment", seg_names)
    by_channel = long(1, "channel", CHANNELS)
    by_team = team_table(L, scenario, plan, f)

    # -- cohorts ---------------------------------------------------------------------------
    rows = []
    c = L.cohort
    for k in range(H + 1):
        first = max(k, 1)
        if k > 0 and c[k, k - 1, CM.NEW_CUSTOMERS] == 0:
            continue
        net = (c[k, :, CM.NEW_ARR] + c[k, :, CM.EXPANSION_ARR] - c[k, :, CM.CONTRACTION_ARR]
               - c[k, :, CM.CHURNED_ARR])
        arr = np.cumsum(net) + (initial["arr"] if k == 0 else 0.0)
        cust = (np.cumsum(c[k, :, CM.NEW_CUSTOMERS] - c[k, :, CM.CHURNED_CUSTOMERS])
                + (initial["customers"] if k == 0 else 0.0))
        for mm in range(first, H + 1):
            rows.append((k, mm, cust[mm - 1], arr[mm - 1], *c[k, mm - 1, CM.NEW_ARR:CM.NEW_CUSTOMERS]))
    cohorts = pd.DataFrame(rows, columns=[
        "cohort_month", "month", "customers", "arr", "new_arr", "expansion_arr",
        "contraction_arr", "churned_arr", "churned_customers"])
    return {"monthly": monthly, "by_segment": by_segment, "by_channel": by_channel,
            "by_team": by_team, "cohorts": cohorts}


def team_table(L: Ledger, scenario: Scenario, plan: MonthlyPlan,
               flows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per sales team and month: headcount, ramped AEs, cost, deal slots, utilisation, mean
    wait for an AE, opportunities, leads lost waiting, deals and new ARR won, and quota
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
