"""Round trip helpers: the true values of the fitted quantities in a scenario."""

from __future__ import annotations

from sim.calibrate.fit import LEAD_CHANNELS


def true_values(sc) -> dict[str, float]:
    out = {}
    for name, seg in sc.segments.items():
        p = f"{name}."
        out[p + "win_prob"] = seg.base_win_prob_frac
        out[p + "cycle_median_days"] = seg.sales_cycle_days.median
        out[p + "cycle_sigma"] = seg.sales_cycle_days.sigma
        out[p + "seats_median"] = seg.seats.median
        out[p + "seats_sigma"] = seg.seats.sigma
        out[p + "monthly_churn_mean"] = seg.monthly_churn_frac
        out[p + "renewal_churn_mean"] = 1 - seg.renewal_prob_frac
        out[p + "churn_concentration"] = seg.churn_concentration
        e = seg.expansion
        out[p + "expansion_rate_per_year"] = e.upsell_rate_per_year + e.cross_sell_rate_per_year
        out[p + "contraction_prob"] = seg.contraction_prob_frac
        out[p + "contraction_frac_a"] = seg.contraction_frac.a
        out[p + "contraction_frac_b"] = seg.contraction_frac.b
        for ch in LEAD_CHANNELS:
            out[f"{p}qualify_prob.{ch}"] = getattr(sc.channels, ch).qualify_prob_frac[name]
    lag = sc.finance.collection_lag_days
    out["collection_lag_shape"] = lag.shape
    out["collection_lag_scale"] = lag.scale
    out["inbound_leads_scale_k"] = sc.channels.inbound.leads_scale_k
    out["outbound_leads_per_sdr"] = sc.channels.outbound.leads_per_sdr_per_month
    return out


def coverage(fit, truth: dict[str, float]) -> list[tuple[str, float, float, float, float, bool]]:
    """(name, truth, estimate, low, high, covered) for every fitted quantity with a truth."""
    rows = []
    for name, t in truth.items():
        e = fit.estimates.get(name)
        if e is not None:
            rows.append((name, t, e.value, e.low, e.high, e.low <= t <= e.high))
    return rows
