"""Round trip helpers: the true values of the fitted quantities in a scenario."""

from __future__ import annotations

from sim.calibrate.mle import LEAD_CHANNELS
from sim.engine.retention_math import churn_law


def true_values(sc, fit) -> dict[str, float]:
    """True values of the fitted quantities; those defined at a point the data chose (the
    churn mean of the most common term, the cost per lead at the observed spend) at the
    fit's point."""
    out = {}
    est = fit.estimates
    inbound, outbound = sc.channels.inbound, sc.channels.outbound
    for name, seg in sc.segments.items():
        p = f"{name}."
        out[p + "win_prob"] = seg.base_win_prob_frac
        out[p + "cycle_median_days"] = seg.sales_cycle_days.median
        out[p + "cycle_sigma"] = seg.sales_cycle_days.sigma
        out[p + "seats_median"] = seg.seats.median
        out[p + "seats_sigma"] = seg.seats.sigma
        kappa = seg.churn_concentration
        out[p + "monthly_churn_mean"] = churn_law(seg.monthly_logo_retention_12m_frac, kappa,
                                                  1).theta
        term = est.get(p + "renewal_term_months")
        if term is not None:
            out[p + "renewal_churn_mean"] = churn_law(seg.logo_retention_12m_frac, kappa,
                                                      int(term.value)).theta
        out[p + "churn_concentration"] = seg.churn_concentration
        e = seg.expansion
        out[p + "expansion_rate_per_year"] = e.upsell_rate_per_year + e.cross_sell_rate_per_year
        out[p + "contraction_prob"] = seg.contraction_prob_frac
        out[p + "contraction_frac_a"] = seg.contraction_frac.a
        out[p + "contraction_frac_b"] = seg.contraction_frac.b
        for ch in LEAD_CHANNELS:
            out[f"{p}qualify_prob.{ch}"] = getattr(sc.channels, ch).qualify_prob_frac[name]
        ref = est.get(p + "inbound_reference_spend_usd")
        if ref is not None:  # cpl at spend s: cpl_ref x (s / s_ref)^(1 - b)
            b = inbound.response_exponent_b[name]
            out[p + "inbound_cost_per_lead_usd"] = inbound.cost_per_lead_usd[name] * (
                ref.value / inbound.reference_spend_per_month_usd[name]) ** (1 - b)
        out[p + "outbound_fresh_leads_per_sdr"] = outbound.fresh_leads_per_sdr_per_month[name]
        out.update(price_truth(sc, name))
    lag = sc.finance.collection_lag_days
    out["collection_lag_shape"] = lag.shape
    out["collection_lag_scale"] = lag.scale
    return out


def price_truth(sc, name: str) -> dict[str, float]:
    """True willingness to pay, rep concession, quarter-end extra and contract mix."""
    p = f"{name}."
    seg, price = sc.segments[name], sc.pricing.segments[name]
    out = {p + "wtp_median_usd": seg.willingness_to_pay_usd.median,
           p + "wtp_sigma": seg.willingness_to_pay_usd.sigma,
           p + "rep_discount_a": price.rep_discount_frac.a,
           p + "rep_discount_b": price.rep_discount_frac.b,
           p + "quarter_end_extra_discount": price.quarter_end_extra_discount_frac}
    for c in seg.contracts:
        out[f"{p}contract_share.{c.term_months}_{c.billing}"] = c.share_frac
    return out


def coverage(fit, truth: dict[str, float]) -> list[tuple[str, float, float, float, float, bool]]:
    """(name, truth, estimate, low, high, covered) for every fitted quantity with a truth."""
    rows = []
    for name, t in truth.items():
        e = fit.estimates.get(name)
        if e is not None:
            rows.append((name, t, e.value, e.low, e.high, e.low <= t <= e.high))
    return rows
