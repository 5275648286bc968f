"""A ``Fit`` → scenario overrides (today's keys) → a commented YAML that ``extends`` the base.

``to_scenario_overrides`` is the only place that knows the scenario's keys: when the churn
(issue 14) or demand (issue 13) keys change, update it and nothing else. Churn fits become
the 12-month logo retention keys through the sBG law of ``sim.engine.retention_math``; lead
fits become per-segment costs per lead (at the observed spend, the base's exponent) and
outbound fresh leads per SDR.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

from sim.calibrate.mle import LEAD_CHANNELS, Estimate, Fit, _note, _sig
from sim.engine.retention import step_churn_probability
from sim.engine.retention_math import betaln

HEADER = "# revsim calibrate"


def _monthly_r12(mean: float, kappa: float | None) -> float:
    """S(12) of a new month-to-month cohort with churn ~ Beta(mean x kappa, (1 - mean) x
    kappa) per month (no concentration: every account the same)."""
    if kappa is None:
        return (1 - mean) ** 12
    a, b = mean * kappa, (1 - mean) * kappa
    return math.exp(betaln(a, b + 12) - betaln(a, b))


def to_scenario_overrides(fit: Fit, base) -> tuple[dict[tuple, object], dict[tuple, str]]:
    """Scenario key paths → fitted values, and → their comment. Distribution values are
    dicts (``{dist: lognormal, ...}``)."""
    values: dict[tuple, object] = {}
    notes: dict[tuple, str] = {}
    est = fit.estimates

    def put(path, value, *names):
        values[path] = value
        notes[path] = "; ".join(_note(n.split(".")[-1], est[n]) for n in names)

    for seg, spec in base.segments.items():
        s = ("segments", seg)

        def g(q, seg=seg):
            return est.get(f"{seg}.{q}")
        if g("win_prob"):
            put((*s, "base_win_prob_frac"), _sig(g("win_prob").value), f"{seg}.win_prob")
        if g("cycle_median_days") and g("cycle_sigma"):
            put((*s, "sales_cycle_days"), {"dist": "lognormal",
                                           "median": _sig(g("cycle_median_days").value),
                                           "sigma": _sig(g("cycle_sigma").value)},
                f"{seg}.cycle_median_days", f"{seg}.cycle_sigma")
        if g("seats_median") and g("seats_sigma"):
            put((*s, "seats"), {"dist": "lognormal", "median": _sig(g("seats_median").value),
                                "sigma": _sig(g("seats_sigma").value)},
                f"{seg}.seats_median", f"{seg}.seats_sigma")
        # churn: fitted sBG mean per renewal and concentration kappa = a + b -> the
        # 12-month logo retention r12 of sim.engine.retention_math (month-to-month: S(12)
        # of a new cohort; a T-month term: mean 1 - r12^(T/12) at neutral health)
        c = g("churn_concentration")
        # a concentration at its bound is kept from the base, but the means were fitted
        # with it: r12 is S(12) of the law that was fitted
        c_fit = c or fit.failed.get(f"{seg}.churn_concentration")
        kappa = c_fit.value if c_fit else spec.churn_concentration
        p = base.pricing
        # the engine's step hazard at the escalator, independent of the account's churn
        q_step = step_churn_probability(p.annual_uplift_frac, p.uplift_churn_at_reference_frac,
                                        p.uplift_churn_reference_frac, p.uplift_churn_shape)
        if g("monthly_churn_mean"):
            mu = g("monthly_churn_mean").value
            r12 = _monthly_r12(mu, kappa)
            key = (*s, "monthly_logo_retention_12m_frac")
            put(key, _sig(r12), f"{seg}.monthly_churn_mean",
                *([f"{seg}.churn_concentration"] if c else []))
            notes[key] += "; r12 = S(12) of the shifted-beta-geometric law"
        if g("renewal_churn_mean") and g("renewal_term_months"):
            term = g("renewal_term_months").value
            mu = min(1.0, max(0.0, 1 - (1 - g("renewal_churn_mean").value) / (1 - q_step)))
            r_term = (1 - mu) ** (12 / term)
            f = spec.multi_year_churn_factor ** max(0.0, term / 12 - 1)
            r12 = 1 - (1 - r_term) / f if f > 0 else r_term
            key = (*s, "logo_retention_12m_frac")
            put(key, _sig(min(1.0, max(0.0, r12))), f"{seg}.renewal_churn_mean",
                f"{seg}.renewal_term_months")
            notes[key] += (f"; r12 from (1 - churn) / (1 - {q_step:.4g})^(12/{term:g}) "
                           "(uplift step hazard, term, multi-year factor)")
        if c:
            put((*s, "churn_concentration"), _sig(c.value), f"{seg}.churn_concentration")
        if g("expansion_rate_per_year"):
            e = spec.expansion
            total = e.upsell_rate_per_year + e.cross_sell_rate_per_year
            share = e.upsell_rate_per_year / total if total > 0 else 1.0
            rate = g("expansion_rate_per_year").value
            put((*s, "expansion", "upsell_rate_per_year"), _sig(rate * share),
                f"{seg}.expansion_rate_per_year")
            put((*s, "expansion", "cross_sell_rate_per_year"), _sig(rate * (1 - share)),
                f"{seg}.expansion_rate_per_year")
            for k in ("upsell_rate_per_year", "cross_sell_rate_per_year"):
                notes[(*s, "expansion", k)] += f"; split {share:.3g} upsell as in the base"
        if g("contraction_prob"):
            put((*s, "contraction_prob_frac"), _sig(g("contraction_prob").value),
                f"{seg}.contraction_prob")
        if g("contraction_frac_a") and g("contraction_frac_b"):
            put((*s, "contraction_frac"), {"dist": "beta", "a": _sig(g("contraction_frac_a").value),
                                           "b": _sig(g("contraction_frac_b").value)},
                f"{seg}.contraction_frac_a", f"{seg}.contraction_frac_b")
        if g("installed_customers"):
            n = int(min(g("installed_customers").value, spec.market_size_accounts))
            put((*s, "installed_customers"), n, f"{seg}.installed_customers")
        if g("installed_seats_median") and g("installed_seats_sigma"):
            put((*s, "installed_seats"), {"dist": "lognormal",
                                          "median": _sig(g("installed_seats_median").value),
                                          "sigma": _sig(g("installed_seats_sigma").value)},
                f"{seg}.installed_seats_median", f"{seg}.installed_seats_sigma")
        if g("installed_price_usd"):
            put((*s, "installed_price_usd"), _sig(g("installed_price_usd").value),
                f"{seg}.installed_price_usd")
        for ch in LEAD_CHANNELS:
            if g(f"qualify_prob.{ch}"):
                put(("channels", ch, "qualify_prob_frac", seg), _sig(g(f"qualify_prob.{ch}").value),
                    f"{seg}.qualify_prob.{ch}")
        if g("inbound_cost_per_lead_usd") and g("inbound_reference_spend_usd"):
            put(("channels", "inbound", "cost_per_lead_usd", seg),
                _sig(g("inbound_cost_per_lead_usd").value), f"{seg}.inbound_cost_per_lead_usd")
            put(("channels", "inbound", "reference_spend_per_month_usd", seg),
                _sig(g("inbound_reference_spend_usd").value),
                f"{seg}.inbound_reference_spend_usd")
        if g("outbound_fresh_leads_per_sdr"):
            put(("channels", "outbound", "fresh_leads_per_sdr_per_month", seg),
                _sig(g("outbound_fresh_leads_per_sdr").value), f"{seg}.outbound_fresh_leads_per_sdr")
    for ch in ("inbound", "outbound"):  # a segment mix only when every segment has its share
        names = [f"{seg}.segment_mix.{ch}" for seg in base.segments]
        if all(n in est for n in names):
            mix = {seg: _sig(est[n].value) for seg, n in zip(base.segments, names, strict=True)}
            drift = 1 - sum(mix.values())
            first = next(iter(mix))
            mix[first] = _sig(mix[first] + drift)
            values[("channels", ch, "segment_mix")] = mix
            notes[("channels", ch, "segment_mix")] = (
                f"share of the observed {'spend' if ch == 'inbound' else 'SDRs'} by segment, "
                f"n={est[names[0]].n}")
    if "collection_lag_shape" in est and "collection_lag_scale" in est:
        put(("finance", "collection_lag_days"),
            {"dist": "gamma", "shape": _sig(est["collection_lag_shape"].value),
             "scale": _sig(est["collection_lag_scale"].value)},
            "collection_lag_shape", "collection_lag_scale")
    _price_overrides(est, base, values, notes)
    from sim.calibrate.opening import opening_overrides  # the state at as-of

    more_values, more_notes = opening_overrides(fit, base)
    values.update(more_values)
    notes.update(more_notes)
    from sim.calibrate.books import books_overrides  # the books: costs, people, cash

    more_values, more_notes = books_overrides(fit, base)
    values.update(more_values)
    notes.update(more_notes)
    return values, notes


def _price_overrides(est: dict[str, Estimate], base, values: dict, notes: dict) -> None:
    """Willingness to pay, the reps' concession, the quarter-end extra and the contract mix
    (``sim.calibrate.prices``)."""
    def put(path, value, *names):
        values[path] = value
        notes[path] = "; ".join(_note(n.split(".")[-1], est[n]) for n in names)

    for seg, spec in base.segments.items():
        p = f"{seg}."
        if all(p + q in est for q in ("wtp_median_usd", "wtp_sigma")):
            put(("segments", seg, "willingness_to_pay_usd"),
                {"dist": "lognormal", "median": _sig(est[p + "wtp_median_usd"].value),
                 "sigma": _sig(est[p + "wtp_sigma"].value)},
                p + "wtp_median_usd", p + "wtp_sigma")
        if all(p + q in est for q in ("rep_discount_a", "rep_discount_b")):
            put(("pricing", "segments", seg, "rep_discount_frac"),
                {"dist": "beta", "a": _sig(est[p + "rep_discount_a"].value),
                 "b": _sig(est[p + "rep_discount_b"].value)},
                p + "rep_discount_a", p + "rep_discount_b")
        if p + "quarter_end_extra_discount" in est:
            put(("pricing", "segments", seg, "quarter_end_extra_discount_frac"),
                _sig(est[p + "quarter_end_extra_discount"].value),
                p + "quarter_end_extra_discount")
        names = sorted((n for n in est if n.startswith(p + "contract_share.")),
                       key=lambda n: (int(n.split(".")[-1].split("_")[0]), n))
        if names:
            disc = {f"{c.term_months}_{c.billing}": c.term_discount_frac for c in spec.contracts}
            options = []
            for n in names:
                term, billing = n.split(".")[-1].split("_")
                options.append({"term_months": int(term), "billing": billing,
                                "share_frac": _sig(est[n].value),
                                "term_discount_frac": disc.get(f"{term}_{billing}", 0.0)})
            drift = 1 - sum(o["share_frac"] for o in options)  # shares sum to 1 exactly
            top = max(options, key=lambda o: o["share_frac"])
            top["share_frac"] = _sig(top["share_frac"] + drift)
            put(("segments", seg, "contracts"), options, *names)
            notes[("segments", seg, "contracts")] += (
                "; term discounts from the base (0 for a term the base does not have)")


def _scalar(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_scalar(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return yaml.safe_dump(v, default_flow_style=True, width=10_000).strip().removesuffix(
        "\n...").strip()


def _clean(text: str) -> str:
    return " ".join(str(text).split()).replace("#", "no.")


def scenario_yaml(fit: Fit, base, base_path: Path, out: Path, inputs: list[str],
                  extra: tuple[dict, dict] | None = None, joint: dict | None = None) -> str:
    """The calibrated scenario: ``extends`` the base (relative to ``out``), every fitted value
    with its comment, the kept values and warnings listed at the top. ``extra``: more key
    paths → values and → comments (``revsim backtest``: the horizon and the plan at the cut).
    ``joint``: the fit's uncertainty as an ``uncertainty.joint`` block
    (:func:`sim.calibrate.uncertainty.fitted_block`), drawn by run, compare and report."""
    values, notes = to_scenario_overrides(fit, base)
    if extra is not None:
        values.update(extra[0])
        notes.update(extra[1])
    rel = os.path.relpath(Path(base_path).resolve(), Path(out).resolve().parent)
    lines = [f"{HEADER} as of {fit.as_of} from: {_clean(', '.join(inputs))}",
             "# Each fitted value is commented: estimate [95% interval], n, method.",
             *(f"# {_clean(n)}" for n in fit.notes),
             "# Kept from the base (the data could not support a fit):"]
    lines += [f"#   - {_clean(u)}" for u in fit.unsupported] or ["#   (nothing)"]
    if fit.failed:  # flagged on their own: a fit that ran and failed is not an estimate
        lines.append("# Fits that failed (not estimates; the base's values are used):")
        lines += [f"#   - FAILED {_clean(k)}: {_clean(e.failed or 'flat likelihood')} "
                  f"(fitted {e.value:.6g} [{e.low:.6g}, {e.high:.6g}], n={e.n})"
                  for k, e in fit.failed.items()]
    if fit.warnings:
        lines.append("# Warnings:")
        lines += [f"#   - {_clean(w)}" for w in fit.warnings]
    from sim.calibrate.opening import opening_comment_lines

    lines += opening_comment_lines(fit, base.segments)
    lines.append(f"extends: {_scalar(rel)}")
    lines.append(f"description: {_scalar(f'Calibrated from the company data as of {fit.as_of}')}")
    tree = key_tree(values, notes)

    def emit(node, depth, prefix):
        for k, v in node.items():
            pad = "  " * depth
            if isinstance(v, tuple):
                lines.append(f"{pad}{_scalar(k)}: {_scalar(v[0])}  # {_clean(v[1])}")
            else:
                lines.append(f"{pad}{_scalar(k)}:")
                emit(v, depth + 1, (*prefix, k))
    emit(tree, 0, ())
    if joint is not None:
        lines.append("# The fit's uncertainty, drawn in every replication unless "
                     "--fixed-parameters:")
        lines.append(yaml.safe_dump({"uncertainty": {"joint": [joint]}}, sort_keys=False,
                                    width=100, default_flow_style=None).rstrip())
    return "\n".join(lines) + "\n"


def key_tree(values: dict[tuple, object], notes: dict[tuple, str]) -> dict:
    """Dotted key paths → nested mappings whose leaves are ``(value, note)``, in the order
    given (the calibrated and the re-forecast scenario files are written from it)."""
    tree: dict = {}
    for path, v in values.items():
        node = tree
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = (v, notes.get(path, ""))
    return tree
