"""A simulated company's history in the canonical input format, from the event log.

Day ``t`` of the simulation is ``origin + t`` days; month ``m`` is the calendar month
``m - 1`` months after the origin's. The history ends at the horizon (the ``as_of`` date):
subscriptions still live have an empty ``end_date``, opportunities still open an empty
``closed_date``, invoices not yet paid an empty ``paid_date``.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd

from sim.scenario.model import Scenario
from sim.units import MONTH_DAYS

DEFAULT_ORIGIN = dt.date(2023, 1, 1)
MONTHLY_ACTUALS = ("revenue", "arr", "customers", "new_customers", "churned_customers",
                   "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "billings",
                   "cash_collected", "operating_profit", "cash_balance")


def _field(note: str, name: str) -> str | None:
    m = re.search(rf"{name} ([^,;]+)", note)
    return m.group(1) if m else None


def day(origin: dt.date, t: float) -> str:
    return (origin + dt.timedelta(days=float(t))).isoformat()


def month_start(origin: dt.date, month: int) -> str:
    k = origin.year * 12 + origin.month - 1 + month - 1
    return dt.date(k // 12, k % 12 + 1, 1).isoformat()


TABLES = ("subscriptions", "opportunities", "leads", "invoices", "actuals", "finance")


def export_history(scenario: Scenario, seed: int = 0, origin: dt.date = DEFAULT_ORIGIN,
                   tables: tuple[str, ...] = TABLES) -> dict[str, pd.DataFrame | dict]:
    """Simulate one replication with the event log and return the canonical tables
    (``subscriptions``, ``opportunities``, ``leads``, ``invoices``, ``actuals``; or only
    those in ``tables``) and ``company`` (origin, as-of, scenario, seed)."""
    from sim.experiments.replication import simulate

    result = simulate(scenario, seed=seed, events=True)
    ev = result.events
    horizon_days = scenario.horizon_months * MONTH_DAYS
    as_of = day(origin, horizon_days)
    make = {
        "subscriptions": lambda: _subscriptions(ev, origin),
        "opportunities": lambda: _opportunities(ev, origin, scenario),
        "leads": lambda: _leads(ev, origin, result.monthly, scenario),
        "invoices": lambda: _invoices(ev, origin),
        "actuals": lambda: _actuals(result.monthly, origin),
        "finance": lambda: _finance(result.monthly, origin),
    }
    out: dict[str, pd.DataFrame | dict] = {name: make[name]() for name in TABLES
                                           if name in tables}
    out["company"] = {"origin": origin.isoformat(), "as_of": as_of, "scenario": scenario.name,
                      "seed": seed, "horizon_months": scenario.horizon_months}
    return out


def _subscriptions(ev: pd.DataFrame, origin: dt.date) -> pd.DataFrame:
    """One row per account and ARR level: a new row at every ARR change; the last row ends
    at churn (or is open)."""
    starts = ev[ev["kind"].isin(["installed", "deal_won"])]
    changes = ev[ev["kind"].isin(["expansion", "contraction", "churn"])]
    by_account: dict[int, list] = {}
    for r in changes.itertuples(index=False):
        by_account.setdefault(int(r.account), []).append((r.time_days, r.kind, r.amount_usd))
    rows = []
    for r in starts.itertuples(index=False):
        acc = int(r.account)
        note = r.note
        # an installed account starts at its first contract (before day 0: the fit knows it
        # as a survivor of the renewals before the history starts)
        start_t = -float(_field(note, "tenure")) if r.kind == "installed" else r.time_days
        term = int(_field(note, "term"))
        billing = _field(note, "billing")
        seats = float(_field(note, "seats"))
        arr = float(r.amount_usd)
        price = arr / seats
        base = {"customer_id": f"C{acc:06d}", "segment": r.segment, "term_months": term,
                "billing": billing,
                "channel": "installed_base" if r.kind == "installed" else r.channel}
        t0 = start_t
        ended = False
        for t, kind, amount in by_account.get(acc, []):
            if kind == "churn":
                rows.append({**base, "start_date": day(origin, t0), "end_date": day(origin, t),
                             "arr_usd": round(arr, 2), "seats": round(seats, 2)})
                ended = True
                break
            if t > t0:  # an ARR change closes this row and opens the next
                rows.append({**base, "start_date": day(origin, t0), "end_date": day(origin, t),
                             "arr_usd": round(arr, 2), "seats": round(seats, 2)})
                t0 = t
            arr += amount if kind == "expansion" else -amount
            seats = arr / price
        if not ended:
            rows.append({**base, "start_date": day(origin, t0), "end_date": "",
                         "arr_usd": round(arr, 2), "seats": round(seats, 2)})
    cols = ["customer_id", "segment", "start_date", "end_date", "term_months", "billing",
            "arr_usd", "seats", "channel"]
    return pd.DataFrame(rows, columns=cols)


def _opportunities(ev: pd.DataFrame, origin: dt.date, scenario: Scenario) -> pd.DataFrame:
    """One row per opportunity: created at arrival, closed won or lost (or open). The
    pipeline in flight at the origin (opportunities the warm-up created before it that close
    after it) is in the history too, created before the origin, as in a real CRM export;
    its seats are unknown (empty), its amount the won net ARR or the lost deal's list ARR."""
    opened = ev[ev["kind"] == "opportunity"]
    closed = {}
    for r in ev[ev["kind"].isin(["deal_won", "deal_lost", "lost_waiting"])].itertuples(
            index=False):
        created = _field(r.note, "created")
        if created is not None:
            closed[float(created)] = r
    rows = []
    in_flight = sorted(t for t in closed if t < 0)
    for t in in_flight:
        c = closed[t]
        row = {"opportunity_id": f"O{len(rows) + 1:06d}", "account_id": "",
               "segment": c.segment, "channel": c.channel, "created_date": day(origin, t),
               "closed_date": day(origin, c.time_days), "outcome": "lost",
               "amount_usd": round(float(c.amount_usd), 2), "list_amount_usd": "",
               "seats": "", "lost_reason": ""}
        if c.kind == "deal_won":
            row.update(outcome="won", account_id=f"C{int(c.account):06d}")
        elif c.kind == "deal_lost":
            row.update(lost_reason=c.note.split(";")[0])
        else:
            row.update(lost_reason="no_capacity")
        rows.append(row)
    for i, r in enumerate(opened.itertuples(index=False), start=len(rows) + 1):
        created_t = float(_field(r.note, "created"))
        seats = float(r.amount_usd)
        price = scenario.pricing.segments[r.segment].list_price_usd
        row = {"opportunity_id": f"O{i:06d}", "account_id": "", "segment": r.segment,
               "channel": r.channel, "created_date": day(origin, created_t), "closed_date": "",
               "outcome": "open", "amount_usd": round(seats * price, 2),
               "list_amount_usd": round(seats * price, 2), "seats": seats, "lost_reason": ""}
        c = closed.get(created_t)
        if c is not None:
            row["closed_date"] = day(origin, c.time_days)
            if c.kind == "deal_won":
                row.update(outcome="won", account_id=f"C{int(c.account):06d}",
                           amount_usd=round(float(c.amount_usd), 2))
            elif c.kind == "deal_lost":
                row.update(outcome="lost", lost_reason=c.note.split(";")[0])
            else:
                row.update(outcome="lost", lost_reason="no_capacity")
        rows.append(row)
    cols = ["opportunity_id", "account_id", "segment", "channel", "created_date", "closed_date",
            "outcome", "amount_usd", "list_amount_usd", "seats", "lost_reason"]
    return pd.DataFrame(rows, columns=cols)


def _leads(ev: pd.DataFrame, origin: dt.date, monthly: pd.DataFrame,
           scenario: Scenario) -> pd.DataFrame:
    from sim.engine.plan import monthly_plan

    budget = monthly_plan(scenario).marketing_budget_usd
    leads = ev[ev["kind"] == "leads"]
    sdrs = dict(zip(monthly["month"], monthly["headcount_sdr"], strict=True))
    # per segment: its share of the budget and of the SDRs
    inbound_mix = scenario.channels.inbound.segment_mix
    outbound_mix = scenario.channels.outbound.segment_mix
    rows = []
    for r in leads.itertuples(index=False):
        rows.append({"month": month_start(origin, int(r.month)), "channel": r.channel,
                     "segment": r.segment, "leads": int(r.amount_usd),
                     "spend_usd": (float(budget[int(r.month) - 1]) * inbound_mix.get(r.segment, 0.0)
                                   if r.channel == "inbound" else ""),
                     "sdrs": (float(sdrs[int(r.month)]) * outbound_mix.get(r.segment, 0.0)
                              if r.channel == "outbound" else "")})
    # AEs' self-sourced leads are outbound leads too (one event each batch): one row per
    # month, channel and segment, as a CRM's lead report shows them
    out = pd.DataFrame(rows, columns=["month", "channel", "segment", "leads", "spend_usd",
                                      "sdrs"])
    if out.empty:
        return out
    keys = ["month", "channel", "segment"]
    return (out.groupby(keys, sort=False, as_index=False)
            .agg(leads=("leads", "sum"), spend_usd=("spend_usd", "first"),
                 sdrs=("sdrs", "first"))[out.columns.tolist()])


def _invoices(ev: pd.DataFrame, origin: dt.date) -> pd.DataFrame:
    """Annual invoices and their payment; an invoice whose cash arrives after the horizon is
    unpaid. An invoice and its payment are consecutive records of the log."""
    rows = []
    records = ev[ev["kind"].isin(["invoice", "cash_received"])]
    recs = list(records.itertuples(index=False))
    for j, r in enumerate(recs):
        if r.kind != "invoice":
            continue
        nxt = recs[j + 1] if j + 1 < len(recs) else None
        paid = (nxt is not None and nxt.kind == "cash_received" and nxt.account == r.account
                and nxt.amount_usd == r.amount_usd)
        rows.append({"invoice_id": f"I{len(rows) + 1:07d}",
                     "customer_id": f"C{int(r.account):06d}",
                     "issued_date": day(origin, r.time_days),
                     "paid_date": day(origin, nxt.time_days) if paid else "",
                     "amount_usd": round(float(r.amount_usd), 2)})
    return pd.DataFrame(rows, columns=["invoice_id", "customer_id", "issued_date", "paid_date",
                                       "amount_usd"])


def _actuals(monthly: pd.DataFrame, origin: dt.date) -> pd.DataFrame:
    df = monthly[["month", *MONTHLY_ACTUALS]].copy()
    df["month"] = [month_start(origin, int(m)) for m in df["month"]]
    return df


def _finance(monthly: pd.DataFrame, origin: dt.date) -> pd.DataFrame:
    """The books (``sim.calibrate.books``): a month's P&L lines as an accountant books them,
    its closing headcount and cash. Partner commissions are booked in sales, with the
    commissions; G&A holds the management payroll and the fixed opex."""
    m = monthly
    df = pd.DataFrame({
        "month": [month_start(origin, int(x)) for x in m["month"]],
        "revenue_usd": m["revenue"], "cost_of_revenue_usd": m["cogs"],
        "marketing_usd": m["marketing_cost"],
        "sales_usd": m["sales_cost"] + m["partner_cost"],
        "sales_commission_usd": m["sales_commission"] + m["partner_cost"],
        "customer_success_usd": m["customer_success_cost"], "g_and_a_usd": m["other_opex"],
        **{f"headcount_{r}": m[f"headcount_{r}"].astype(int)
           for r in ("ae", "sdr", "csm", "onboarding", "management")},
        "cash_balance_usd": m["cash_balance"]})
    money = [c for c in df.columns if c.endswith("_usd")]
    df[money] = df[money].round(2)
    return df


def write_history(history: dict, folder) -> None:
    """Write the tables as CSV files and ``company.json`` into ``folder``. Text cells that a
    spreadsheet would read as a formula (a segment named ``=...``) get a leading quote
    (``sim.outputs.escape.csv_frame``); revsim's readers take it off again."""
    from pathlib import Path

    from sim.outputs.escape import csv_frame

    folder = Path(folder)
    for name, frame in history.items():
        if name == "company":
            (folder / "company.json").write_text(json.dumps(frame, indent=2) + "\n",
                                                 encoding="utf-8")
        else:
            csv_frame(frame).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
