"""The books: costs, headcount, salaries and opening cash at ``--as-of`` from a monthly
finance file (``--finance``), so that a calibrated scenario is the whole company and not its
revenue on the template's cost base.

The canonical finance file has one row a month (``month``, the month's first day) and any
of these columns (USD of the month, people at the month's end, cash at the month's end):

- P&L lines: ``revenue_usd``, ``cost_of_revenue_usd``, ``marketing_usd``, ``sales_usd``,
  ``customer_success_usd``, ``g_and_a_usd``, ``r_and_d_usd``, ``sales_commission_usd``;
- headcount by role: ``headcount_ae``, ``headcount_sdr``, ``headcount_csm``,
  ``headcount_onboarding``, ``headcount_management``;
- payroll by role (loaded cost of the role's people): ``payroll_<role>_usd``;
- ``cash_balance_usd``.

The fit reads the books' months closed at ``--as-of`` (their last day on or before it): cash and headcount are
the last such month's; every cost line and salary is the mean of the last ``RUN_RATE_MONTHS``
of them (the run rate), with a t interval over those months. They map onto the engine's cost
lines (``sim.experiments.tables``):

- ``finance.starting_cash_usd`` = the last cash balance;
- ``headcount.<role>.count`` (and the sales teams' AEs, split as in the base) = the heads;
- ``<role>.loaded_cost_per_month_usd`` = payroll / heads when the payroll is given; else
  the roles of a P&L line (sales: AEs and SDRs, less commissions; customer success: CSMs and
  onboarding) have the base's salaries scaled so that heads x salary is the line;
- ``channels.inbound.budget_per_month_usd`` = marketing less the partner programme;
- ``costs.fixed_opex_per_month_usd`` = G&A + R&D less the management payroll;
- ``costs.hosting_support_frac_of_revenue`` = (cost of revenue less payment fees and the
  base's cost to serve) / revenue.

Anything the file does not give stays the template's and is listed at the top of the
calibrated file (``template_lines``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.mle import Estimate, Fit

RUN_RATE_MONTHS = 3
"""Months of the books averaged for a cost line's run rate (a quarter; an assumption: long
enough to smooth a bonus month, short enough to be today's cost base)."""

LINES = ("revenue_usd", "cost_of_revenue_usd", "marketing_usd", "sales_usd",
         "customer_success_usd", "g_and_a_usd", "r_and_d_usd", "sales_commission_usd",
         "cash_balance_usd")
ROLES = ("ae", "sdr", "csm", "onboarding", "management")
HEADS = tuple(f"headcount_{r}" for r in ROLES)
PAYROLL = tuple(f"payroll_{r}_usd" for r in ROLES)
COLUMNS = (*LINES, *HEADS, *PAYROLL)
LINE_ROLES = {"sales_usd": ("ae", "sdr"), "customer_success_usd": ("csm", "onboarding")}
PREFIX = "books."


def _est(values: pd.Series, what: str) -> Estimate:
    """Mean of the months with a t interval over them (a point when only one month)."""
    x = values.to_numpy(float)
    n = len(x)
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, n, what)
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Estimate(m, m - half, m + half, n, what)


def _put(fit: Fit, name: str, est: Estimate) -> None:
    fit.estimates[PREFIX + name] = est  # books are facts: no small-sample warning per month


def month_ends(books: pd.DataFrame) -> pd.Series:
    return books["month"] + pd.offsets.MonthBegin(1)


def fit_books(fit: Fit, books: pd.DataFrame | None, subs: pd.DataFrame | None, base,
              as_of: pd.Timestamp) -> None:
    """Add the books' estimates (``books.*``) to ``fit``; the template's parts as notes."""
    if books is None:
        fit.notes += template_lines(base, set(), books=False)
        return
    # a month is closed when its last day is on or before --as-of
    closed = books[month_ends(books) - pd.Timedelta(days=1) <= as_of].sort_values(
        "month", kind="mergesort")
    if closed.empty:
        fit.unsupported.append(f"finance: no month of the books closes on or before "
                               f"{fit.as_of}")
        fit.notes += template_lines(base, set())
        return
    last = closed.iloc[-1]
    when = f"{last['month']:%Y-%m}"
    recent = closed.tail(RUN_RATE_MONTHS)
    span = f"{recent['month'].iloc[0]:%Y-%m} to {when}"
    if "cash_balance_usd" in closed and pd.notna(last.get("cash_balance_usd")):
        _put(fit, "cash", Estimate(float(last["cash_balance_usd"]), math.nan, math.nan, 1,
                                   f"cash balance at the end of {when} (books)"))
    for role, col in zip(ROLES, HEADS, strict=True):
        if col in closed and pd.notna(last.get(col)):
            _put(fit, f"heads.{role}", Estimate(float(last[col]), math.nan, math.nan, 1,
                                                f"headcount at the end of {when} (books)"))
    run = {}
    for col in (*LINES, *PAYROLL):
        if col == "cash_balance_usd" or col not in recent:
            continue
        v = recent[col].dropna()
        if len(v):
            run[col] = _est(v, f"mean of {len(v)} month(s) of the books, {span}")
    heads = {r: fit.estimates[PREFIX + f"heads.{r}"].value for r in ROLES
             if PREFIX + f"heads.{r}" in fit.estimates}
    _salaries(fit, run, heads, subs, base, recent)
    _lines(fit, run, subs, base, recent)
    fit.notes += template_lines(base, {k.removeprefix(PREFIX) for k in fit.estimates
                                       if k.startswith(PREFIX)})


def _role_cost(base, role: str) -> tuple[float, float]:
    """The base's heads and loaded cost per head of a role (AEs: over every team)."""
    if role == "ae":
        teams = base.sales.teams.values()
        n = sum(t.count for t in teams)
        cost = sum(t.count * t.loaded_cost_per_month_usd for t in teams)
        return n, (cost / n if n else next(iter(teams)).loaded_cost_per_month_usd)
    r = getattr(base.headcount, role)
    return r.count, r.loaded_cost_per_month_usd


def _commissions(run, subs, base, recent) -> tuple[float, str]:
    """Commissions in the sales line: the books' column, else the base's rate on the new
    ARR the subscriptions show in those months, else none."""
    if "sales_commission_usd" in run:
        return run["sales_commission_usd"].value, "the books' sales_commission_usd"
    if subs is not None and not subs.empty:
        lo, hi = recent["month"].iloc[0], month_ends(recent).iloc[-1]
        first = subs.sort_values("start_date").groupby("customer_id").head(1)
        new = first[(first["start_date"] >= lo) & (first["start_date"] < hi)]
        won = float(new["arr_usd"].sum()) / len(recent)
        return (base.sales.commission_frac * won,
                f"commission_frac {base.sales.commission_frac:g} x new ARR in the subscriptions")
    return 0.0, "no commissions known (give sales_commission_usd)"


def _salaries(fit: Fit, run: dict, heads: dict, subs, base, recent) -> None:
    for role in ROLES:  # payroll / heads where the payroll is given
        pay = run.get(f"payroll_{role}_usd")
        if pay is not None and heads.get(role, 0) > 0:
            n = heads[role]
            _put(fit, f"salary.{role}", Estimate(
                pay.value / n, pay.low / n, pay.high / n, pay.n,
                f"payroll_{role}_usd / {n:g} heads, {pay.method}"))
    for line, roles in LINE_ROLES.items():  # else the P&L line scales the base's salaries
        est = run.get(line)
        todo = [r for r in roles if PREFIX + f"salary.{r}" not in fit.estimates]
        if est is None or not todo:
            continue
        known, at_base, method = 0.0, 0.0, ""
        for r in roles:
            n = heads.get(r, _role_cost(base, r)[0])
            if PREFIX + f"salary.{r}" in fit.estimates:
                known += n * fit.estimates[PREFIX + f"salary.{r}"].value
            else:
                at_base += n * _role_cost(base, r)[1]
        less = known
        if line == "sales_usd":
            comm, method = _commissions(run, subs, base, recent)
            less += comm
        payroll = est.value - less
        if at_base <= 0 or payroll <= 0:
            fit.unsupported.append(f"salaries of {', '.join(todo)}: the {line} line "
                                   f"({est.value:,.0f} a month) does not cover them")
            continue
        scale = payroll / at_base
        for r in todo:
            base_cost = _role_cost(base, r)[1]
            lo = (est.low - less) / at_base * base_cost if math.isfinite(est.low) else math.nan
            hi = (est.high - less) / at_base * base_cost if math.isfinite(est.high) else math.nan
            _put(fit, f"salary.{r}", Estimate(
                scale * base_cost, lo, hi, est.n,
                f"the base's salary x {scale:.4g}: {line} {est.value:,.0f} a month"
                f"{' less ' + method if method else ''} over heads x the base's salaries; "
                f"{est.method}"))


def _serve_cost(subs, base, recent) -> float | None:
    """The base's cost to serve of the customers active at the run-rate months' starts (by
    segment, subscriptions read half-open), a month on average."""
    if subs is None or subs.empty:
        return None
    total = 0.0
    for m in recent["month"]:
        live = subs[(subs["start_date"] <= m) & (subs["end_date"].isna() | (subs["end_date"] > m))]
        counts = live.groupby("segment")["customer_id"].nunique()
        total += sum(float(n) * base.segments[seg].cost_to_serve_per_month_usd
                     for seg, n in counts.items() if seg in base.segments)
    return total / len(recent)


def _lines(fit: Fit, run: dict, subs, base, recent) -> None:
    if "marketing_usd" in run:
        p = base.channels.partner
        prog = p.active_partners * p.program_cost_per_partner_per_month_usd
        e = run["marketing_usd"]
        _put(fit, "marketing", Estimate(max(0.0, e.value - prog), e.low - prog, e.high - prog,
                                        e.n, f"marketing_usd less the base's partner programme "
                                        f"({prog:,.0f} a month); {e.method}"))
    other = [run[c] for c in ("g_and_a_usd", "r_and_d_usd") if c in run]
    if other:
        mgmt = fit.estimates.get(PREFIX + "salary.management")
        n_mgmt = fit.estimates.get(PREFIX + "heads.management")
        n = n_mgmt.value if n_mgmt else base.headcount.management.count
        pay = n * (mgmt.value if mgmt else base.headcount.management.loaded_cost_per_month_usd)
        total = sum(e.value for e in other)
        sd = math.sqrt(sum(((e.high - e.value) ** 2 if math.isfinite(e.high) else math.nan)
                           for e in other))
        what = " + ".join(c for c in ("g_and_a_usd", "r_and_d_usd") if c in run)
        if total - pay <= 0:
            fit.unsupported.append(f"costs.fixed_opex_per_month_usd: {what} ({total:,.0f} a "
                                   f"month) is below the management payroll ({pay:,.0f})")
        else:
            _put(fit, "fixed_opex", Estimate(total - pay, total - pay - sd, total - pay + sd,
                                             other[0].n, f"{what} less the management payroll "
                                             f"({pay:,.0f} a month); {other[0].method}"))
    if "cost_of_revenue_usd" in run and "revenue_usd" in run:
        rev, cor = run["revenue_usd"].value, run["cost_of_revenue_usd"]
        fees = base.costs.payment_fee_frac_of_billings * rev  # billings ~ revenue on a month
        served = _serve_cost(subs, base, recent)
        serve = served or 0.0
        if rev > 0 and cor.value - fees - serve >= 0:
            frac = (cor.value - fees - serve) / rev
            lo = (cor.low - fees - serve) / rev if math.isfinite(cor.low) else math.nan
            hi = (cor.high - fees - serve) / rev if math.isfinite(cor.high) else math.nan
            _put(fit, "hosting_frac", Estimate(min(1.0, frac), max(0.0, lo), min(1.0, hi), cor.n,
                                               "(cost_of_revenue_usd less payment fees at the "
                                               "base's rate" + (" and the base's cost to serve "
                                               f"of the active customers ({serve:,.0f})"
                                               if served is not None else "")
                                               + f") / revenue_usd; {cor.method}"))
        else:
            fit.unsupported.append("costs.hosting_support_frac_of_revenue: cost of revenue "
                                   "below the payment fees and cost to serve, or no revenue")


TEMPLATE = {
    "cash": "opening cash (finance.starting_cash_usd)",
    "heads": "headcount (headcount.*.count, sales.teams.*.count)",
    "salary": "salaries (loaded_cost_per_month_usd)",
    "marketing": "marketing budget (channels.inbound.budget_per_month_usd)",
    "fixed_opex": "G&A and R&D (costs.fixed_opex_per_month_usd)",
    "hosting_frac": "cost of revenue (costs.hosting_support_frac_of_revenue)",
}


PLANS = ("Plans are the template's choices, applied from month 1: hiring plans, budget and "
         "partner plans, fixed opex growth.")


def template_lines(base, fitted: set[str], books: bool = True) -> list[str]:
    """Header lines naming what still comes from the template (the base), not the books."""
    kept = [what for key, what in TEMPLATE.items()
            if not any(f == key or f.startswith(key + ".") for f in fitted)]
    if not kept:
        return ["Costs, headcount, salaries and cash: from the books (--finance).", PLANS]
    kept = [k.replace("opening cash (", f"opening cash ${base.finance.starting_cash_usd:,.0f} (")
            for k in kept]
    why = ("the books did not give them" if books else
           "give the books with --finance to fit them; until then profit and cash are the "
           "template's, not this company's")
    return [f"FROM THE TEMPLATE, not this company's books: {', '.join(kept)} ({why}).", PLANS]


def books_overrides(fit: Fit, base) -> tuple[dict[tuple, object], dict[tuple, str]]:
    """Scenario key paths → values and comments for the books' estimates."""
    from sim.calibrate.mle import _note, _sig

    est = {k.removeprefix(PREFIX): e for k, e in fit.estimates.items() if k.startswith(PREFIX)}
    values: dict[tuple, object] = {}
    notes: dict[tuple, str] = {}

    def put(path, value, key):
        values[path] = value
        notes[path] = _note(key, est[key])

    if "cash" in est:
        put(("finance", "starting_cash_usd"), round(est["cash"].value, 2), "cash")
    if "marketing" in est:
        put(("channels", "inbound", "budget_per_month_usd"), _sig(est["marketing"].value),
            "marketing")
    if "fixed_opex" in est:
        put(("costs", "fixed_opex_per_month_usd"), _sig(est["fixed_opex"].value), "fixed_opex")
    if "hosting_frac" in est:
        put(("costs", "hosting_support_frac_of_revenue"), _sig(est["hosting_frac"].value),
            "hosting_frac")
    for role in ("sdr", "csm", "onboarding", "management"):
        path = ("headcount", role)
        if f"heads.{role}" in est:
            put((*path, "count"), int(round(est[f"heads.{role}"].value)), f"heads.{role}")
        if f"salary.{role}" in est:
            put((*path, "loaded_cost_per_month_usd"), _sig(est[f"salary.{role}"].value),
                f"salary.{role}")
    teams = base.sales.teams
    if "heads.ae" in est:  # split as the base's teams are
        split = _split(int(round(est["heads.ae"].value)),  # as the base's plan ends
                       {n: max(0, t.count + sum(h.add for h in t.hiring_plan))
                        for n, t in teams.items()})
        for name, n in split.items():
            put(("sales", "teams", name, "count"), n, "heads.ae")
            notes[("sales", "teams", name, "count")] += "; split across teams as in the base"
    if "salary.ae" in est:
        base_mean = _role_cost(base, "ae")[1]
        for name, t in teams.items():
            v = est["salary.ae"].value * t.loaded_cost_per_month_usd / base_mean
            put(("sales", "teams", name, "loaded_cost_per_month_usd"), _sig(v), "salary.ae")
            notes[("sales", "teams", name, "loaded_cost_per_month_usd")] += (
                "; per team in the base's proportions")
    return values, notes


def _split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """``total`` across the keys in proportion to ``weights`` (largest remainder)."""
    w = np.asarray(list(weights.values()), float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))
    raw = w * total
    out = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - out), kind="stable")[: total - int(out.sum())]:
        out[i] += 1
    return dict(zip(weights, (int(x) for x in out), strict=True))
