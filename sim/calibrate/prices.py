"""Discounts, willingness to pay and the contract mix, by maximum likelihood under the
engine's own negotiation (``sim.engine.pricing.negotiate``; the likelihood is
``sim.calibrate.negotiation``).

A deal that beat the competition is priced at the end of its cycle: the buyer needs
``n = max(0, 1 - W / L_c)`` off the term-discounted list ``L_c`` of its contract ``c``; the
rep opens at ``D = B + e·[quarter end]`` with ``B ~ Beta(a, b)`` and negotiates on a noisy
signal of ``W`` in counter rounds (step, rounds, walk chance, signal noise: the scenario's
negotiation rules, held at the base's values: a deal shows the discount given, not the
rounds or the signal), never above the ceiling ``min(cap, top approval tier)``. Per deal
(``W`` lognormal):

- won strictly inside the ceiling: the density of the discount given (at the opening, after
  k steps, or on the rep's estimate), averaged over the signal noise;
- won at the ceiling: the chance of that outcome;
- lost on price (refused at the last round or at the ceiling, or walked): ``Σ_c π_c (1 -
  P(won on price | c))`` (the contract of a lost deal is unknown: the mix before the price
  decision);
- lost to the competition or slipped at a quarter-end push: nothing about price.

The contract of a won deal comes from its subscription (``account_id`` = ``customer_id``);
a deal whose contract is unknown is the mixture over the pre-price contract mix. The close
date is a whole day: its share of the quarter-end window (the base's
``quarter_end_window_days``, plan quarters counted from ``--history-start``) weights the two
openings. Without ``lost_reason`` the won deals' likelihood is conditioned on winning on price.

The contract mix: the share of each term × billing among new subscriptions (Wilson
intervals); corrected for the deals lost on price (the engine draws the contract before the
price decision, so cheaper contracts are over-represented among the won): ``π_c ∝ share_c /
P(won on price | c)`` at the values written.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from sim.calibrate.mle import Z95, Estimate, Fit, binomial, mle_cov
from sim.calibrate.negotiation import Kernel, Rules, won_density
from sim.engine.pricing import QUARTER_DAYS

AT_CAP_TOL = 1e-4  # a discount this close to the cap is at the cap (amounts are in cents)
ABOVE_CAP_TOL = 2e-3  # a discount this far above the base's cap: the cap is not the base's
MIN_WINDOW_DEALS = 5.0  # fewer won deals in quarter-end windows: the extra stays from the base
ENGINE_TERMS = (1, 12, 24, 36)


def option_key(term: int, billing: str) -> str:
    return f"{int(term)}_{billing}"


def quarter_end_share(day: np.ndarray, window_days: float) -> np.ndarray:
    """Share of each whole day ``[k, k + 1)`` (days since the plan's day 0) that lies in the
    last ``window_days`` of its plan quarter (``sim.engine.pricing.in_quarter_end``)."""
    if window_days <= 0:
        return np.zeros(len(day))
    k = np.asarray(day, float)
    out = np.zeros(len(k))
    for shift in (0, 1):
        j = np.floor(k / QUARTER_DAYS) + shift
        lo = np.maximum(k, j * QUARTER_DAYS - window_days)
        hi = np.minimum(k + 1, j * QUARTER_DAYS)
        out += np.clip(hi - lo, 0, 1)
    return np.clip(out, 0, 1)


def new_subscription_options(subs: pd.DataFrame | None, since) -> pd.DataFrame | None:
    """First contract of each customer won in the history: customer, term, billing."""
    if subs is None or subs.empty:
        return None
    first = subs.sort_values(["customer_id", "start_date"], kind="mergesort").groupby(
        "customer_id", sort=False).head(1)
    if "channel" in first.columns:
        first = first[first["channel"].fillna("").str.lower() != "installed_base"]
    if since is not None:
        first = first[first["start_date"] >= since]
    return first[["customer_id", "term_months", "billing"]]


def fit_contract_mix(fit: Fit, seg: str, firsts: pd.DataFrame | None, base) -> dict[str, float]:
    """Shares of new subscriptions by term × billing (Wilson per share); the raw shares."""
    p = f"{seg}."
    if firsts is None or firsts.empty:
        fit.unsupported.append(f"{p}contracts: no new subscriptions in this segment")
        return {}
    keys = [option_key(t, b) for t, b in zip(firsts["term_months"], firsts["billing"],
                                             strict=True)]
    counts = {option_key(c.term_months, c.billing): 0 for c in base.segments[seg].contracts}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    bad = [k for k in counts if int(k.split("_")[0]) not in ENGINE_TERMS or k == "1_annual"]
    if bad:
        fit.unsupported.append(f"{p}contracts: terms the engine does not model "
                               f"({', '.join(sorted(bad))}); the mix stays from the base")
        return {}
    n = sum(counts.values())
    shares = {}
    for k in sorted(counts, key=lambda k: (int(k.split("_")[0]), k)):
        fit.add(f"{p}contract_share.{k}", binomial(int(counts[k]), n, (
            "share of new subscriptions on this term x billing, Wilson interval")))
        shares[k] = float(counts[k]) / n
    return shares


def _contracts(base, seg: str, shares: dict[str, float]):
    """Options (key, term-discounted list factor) of the base, and the mix of lost deals."""
    opts = [(option_key(c.term_months, c.billing), 1 - c.term_discount_frac)
            for c in base.segments[seg].contracts]
    mix = np.array([shares.get(k, c.share_frac) if shares else c.share_frac
                    for (k, _), c in zip(opts, base.segments[seg].contracts, strict=True)])
    return opts, mix / mix.sum()


def fit_prices(fit: Fit, seg: str, o: pd.DataFrame, subs: pd.DataFrame | None, base,
               origin: pd.Timestamp, shares: dict[str, float]) -> None:
    """Willingness to pay (lognormal), the reps' concession (Beta) and the quarter-end extra
    of one segment from its closed opportunities."""
    p = f"{seg}."
    price = base.pricing.segments[seg]
    cap = price.discount_cap_frac
    if "list_amount_usd" not in o.columns or o["list_amount_usd"].isna().all():
        fit.unsupported.append(f"{p}willingness to pay and discounts: needs list_amount_usd "
                               "on the opportunities")
        return
    # only decisions whose list amount is known, won and lost alike (a deal without it, such
    # as one opened before the history, would otherwise count as a loss but never as a win)
    o = o[o["list_amount_usd"].notna()]
    has_reason = "lost_reason" in o.columns
    reason = (o["lost_reason"].fillna("").str.lower() if has_reason
              else pd.Series("", index=o.index))
    won = o[(o["outcome"] == "won") & o["list_amount_usd"].gt(0) & o["amount_usd"].notna()]
    lost_price = o[(o["outcome"] == "lost") & (reason == "price")]
    if len(won) < 10:
        fit.unsupported.append(f"{p}willingness to pay and discounts: fewer than 10 won deals "
                               "with list and net amounts")
        return
    opts, mix = _contracts(base, seg, shares)
    factor = np.array([f for _, f in opts])
    # each won deal's contract, from its first subscription
    known = np.full((len(won), len(opts)), np.nan)
    if subs is not None and "account_id" in won.columns:
        first = subs.sort_values("start_date", kind="mergesort").groupby("customer_id").head(1)
        key = dict(zip(first["customer_id"], [option_key(t, b) for t, b in zip(
            first["term_months"], first["billing"], strict=True)], strict=True))
        for i, acc in enumerate(won["account_id"].fillna("")):
            k = key.get(acc)
            if k is not None and k in [o_[0] for o_ in opts]:
                known[i] = [1.0 if o_[0] == k else 0.0 for o_ in opts]
    unknown = np.isnan(known[:, 0])
    rules = Rules.of(base, seg)
    ceiling = rules.ceiling
    ratio = (won["amount_usd"] / won["list_amount_usd"]).to_numpy(float)
    d = 1 - ratio[:, None] / factor[None, :]  # discount under each contract
    reach = np.where(unknown[:, None], mix[None, :] > 0, known > 0)
    possible = (d > -AT_CAP_TOL) & (d <= ceiling + ABOVE_CAP_TOL) & reach
    if np.any(~possible.any(axis=1)):
        worst = float(np.nanmax(np.where(reach, d, np.nan)))
        fit.unsupported.append(
            f"{p}willingness to pay and discounts: discounts up to {worst:.3g} observed, above "
            f"the base's cap {cap:g} (set pricing.segments.{seg}.discount_cap_frac to the "
            "policy first)")
        return
    d = np.clip(np.where(possible, d, 0.0), 0.0, ceiling)
    at_cap = np.abs(d - ceiling) <= AT_CAP_TOL
    closed_day = ((won["closed_date"] - origin) / pd.Timedelta(days=1)).to_numpy(float)
    window = base.pricing.quarter_end_window_days
    q = quarter_end_share(np.floor(closed_day), window)
    lost_day = ((lost_price["closed_date"] - origin) / pd.Timedelta(days=1)).to_numpy(float)
    q_lost = quarter_end_share(np.floor(lost_day), window) if len(lost_price) else np.zeros(0)
    fit_extra = q.sum() >= MIN_WINDOW_DEALS
    base_extra = price.quarter_end_extra_discount_frac
    listed = np.array([price.list_price_usd * f for f in factor])  # L_c per option
    n_lost = len(lost_price)
    kernel = Kernel(rules)
    # the (deal, contract) pairs the likelihood reads: each won deal under each contract it
    # may have signed, inside the ceiling or at it, in and out of the quarter-end window
    row, col = np.nonzero(possible)
    pair_d, pair_cap, pair_q = d[row, col], at_cap[row, col], q[row]
    pair_list = listed[col]
    interior = ~pair_cap
    # a ratio at some contract's ceiling is that contract's atom: a density elsewhere gives
    # a single point no probability, so such a deal reads only its at-ceiling contracts
    atom = np.bincount(row, pair_cap, minlength=len(won)) > 0
    counted = ~(atom[row] & interior)
    calm, rush = interior & (pair_q < 1), interior & (pair_q > 0)
    q_bar = float(q.mean())

    def unpack(x):
        e = float(special.expit(x[4])) if fit_extra else base_extra
        return x[0], math.exp(x[1]), math.exp(x[2]), math.exp(x[3]), e

    def decisions(mu, s, a, b, e):
        """P(won on price) and P(won at the ceiling) by contract, outside and in the window."""
        return kernel.table(mu, s, listed, a, b, (0.0, e))

    def nll(x):
        mu, s, a, b, e = unpack(x)
        with np.errstate(all="ignore"):
            win, top = decisions(mu, s, a, b, e)
            # contracts before the price decision: the won shares over their chance to win
            pre = mix / np.maximum((1 - q_bar) * win[:, 0] + q_bar * win[:, 1], 1e-300) \
                if shares else mix
            pre = pre / pre.sum()
            lik = np.zeros(len(row))
            lik[pair_cap] = ((1 - pair_q) * top[col, 0] + pair_q * top[col, 1])[pair_cap]
            lik[calm] += (1 - pair_q[calm]) * won_density(pair_d[calm], pair_list[calm], mu, s,
                                                          a, b, 0.0, rules)
            lik[rush] += pair_q[rush] * won_density(pair_d[rush], pair_list[rush], mu, s, a,
                                                    b, e, rules)
            # the data are the ratio net / list: under contract c its density is the
            # discount's over the contract's list factor (it matters when c is unknown)
            lik[interior] /= factor[col][interior]
            weight = np.where(unknown[row], pre[col], 1.0) * counted
            per_deal = np.bincount(row, weight * lik, minlength=len(won))
            ll = np.sum(np.log(np.maximum(per_deal, 1e-300)))
            if has_reason and n_lost:
                lose = (1 - q_lost[:, None]) * (1 - win[None, :, 0]) + q_lost[:, None] * (
                    1 - win[None, :, 1])
                ll += np.sum(np.log(np.maximum(lose @ pre, 1e-300)))
            elif not has_reason:  # conditioned on winning on price
                p_win = (1 - pair_q) * win[col, 0] + pair_q * win[col, 1]
                ll -= np.sum(np.log(np.maximum(np.bincount(
                    row, weight * p_win, minlength=len(won)), 1e-300)))
        return -ll if np.isfinite(ll) else 1e300

    weights = np.where(possible, np.where(unknown[:, None], mix[None, :], known), 0.0)
    likely = np.argmax(weights, axis=1)
    inside = d[np.arange(len(d)), likely]
    free = ~at_cap[np.arange(len(d)), likely]
    m = float(np.clip(np.mean(inside[free]) if free.any() else cap / 2, 0.02, 0.5))
    x0 = np.array([math.log(price.list_price_usd), math.log(0.3), math.log(2.0),
                   math.log(2.0 * (1 - m) / m), special.logit(max(base_extra, 0.01))])
    wtp = base.segments[seg].willingness_to_pay_usd
    n = len(won) + n_lost
    how = ("won deals (discount under each contract) and lost on price" if has_reason else
           "won deals only, conditioned on winning on price (no lost_reason)")
    method = f"MLE under the engine's negotiation, {how}, {rules.describe()}"
    mask = np.array([True, True, True, True, fit_extra])
    x, se, cov = _fit_free(nll, x0, mask)
    if fit_extra and x[2] < 0:  # a < 1: the concession's density is unbounded at 0, so the
        # likelihood of the quarter-end extra spikes at each window deal's discount
        fit_extra = False
        mask[4] = False
        x0[4] = special.logit(min(max(base_extra, 1e-6), 1 - 1e-6))
        x, se, cov = _fit_free(nll, x0, mask)
        fit.unsupported.append(f"{p}quarter_end_extra_discount: not identified when the "
                               "reps' concession has Beta a < 1, kept from the base")
    if not _wtp_identified(x, se, price.list_price_usd):
        why = (f"{p}willingness_to_pay_usd: not identified (flat likelihood: too few deals "
               "need a discount or are lost on price), kept from the base")
        if wtp.dist != "lognormal":
            fit.unsupported.append(why + "; the discounts stay from the base too")
            return
        fit.unsupported.append(why + "; the reps' concession is fitted given it")
        x0[:2] = math.log(wtp.median), math.log(wtp.sigma)
        mask[:2] = False
        x, se, cov = _fit_free(nll, x0, mask)
        method += ", willingness to pay fixed at the base"
    else:
        fit.add(p + "wtp_median_usd", Estimate(math.exp(x[0]), math.exp(x[0] - Z95 * se[0]),
                                               math.exp(x[0] + Z95 * se[0]), n,
                                               "lognormal " + method))
        fit.add(p + "wtp_sigma", Estimate(math.exp(x[1]), math.exp(x[1] - Z95 * se[1]),
                                          math.exp(x[1] + Z95 * se[1]), n, "lognormal " + method))
    for i, name in ((2, "rep_discount_a"), (3, "rep_discount_b")):
        fit.add(p + name, Estimate(math.exp(x[i]), math.exp(x[i] - Z95 * se[i]),
                                   math.exp(x[i] + Z95 * se[i]), n, "Beta " + method))
    if fit_extra:
        fit.add(p + "quarter_end_extra_discount", Estimate(
            float(special.expit(x[4])), float(special.expit(x[4] - Z95 * se[4])),
            float(special.expit(x[4] + Z95 * se[4])), int(round(q.sum())),
            "extra concession in the quarter-end window, " + method))
    elif q.sum() < MIN_WINDOW_DEALS:
        fit.unsupported.append(f"{p}quarter_end_extra_discount: fewer than "
                               f"{MIN_WINDOW_DEALS:g} won deals in quarter-end windows")
    # drawn together: the free parameters of the one likelihood, in the order of x
    names = [p + "wtp_median_usd", p + "wtp_sigma", p + "rep_discount_a", p + "rep_discount_b",
             p + "quarter_end_extra_discount"]
    fit.add_joint([n for n, free in zip(names, mask, strict=True) if free],
                  [sc for sc, free in zip(("log", "log", "log", "log", "logit"), mask,
                                          strict=True) if free], cov)
    # the contract mix, corrected for the deals lost on price
    if shares:  # at the willingness to pay and concession written (fitted, or the base's)
        mu, s, a, b, e = unpack(x)
        win = decisions(mu, s, a, b, e)[0]
        p_win = {k: float((1 - q_bar) * win[c, 0] + q_bar * win[c, 1])
                 for c, (k, _) in enumerate(opts)}
        raw = {k: fit.estimates[f"{p}contract_share.{k}"] for k in shares
               if f"{p}contract_share.{k}" in fit.estimates}
        if set(raw) == set(p_win) and all(v > 0 for v in p_win.values()):
            norm = sum(raw[k].value / p_win[k] for k in raw)
            for k, est in raw.items():
                fit.estimates[f"{p}contract_share.{k}"] = Estimate(
                    est.value / p_win[k] / norm, est.low / p_win[k] / norm,
                    min(1.0, est.high / p_win[k] / norm), est.n,
                    est.method + "; corrected for deals lost on price (share / P(won on "
                    "price) under the negotiation at the values written, renormalised)",
                    est.warning)
    fit.unsupported.append(f"{p}wtp_signal_noise_frac, concession_step_frac, "
                           "counter_round_days and the pricing-wide rounds, walk and approval "
                           "days: the negotiation's rules are not fitted (a deal shows the "
                           "discount given, not the signal or the rounds); kept from the base, "
                           "and the willingness to pay and concession are fitted given them")
    fit.unsupported.append(f"{p}discount_cap_frac and quarter_end_window_days: the company's "
                           "policy, kept from the base")
    fit.unsupported.append(f"{p}installed_willingness_to_pay_usd: not revealed by new deals, "
                           "kept from the base")


def _fit_free(nll, x0: np.ndarray, mask: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """MLE over the parameters ``mask`` frees (the others fixed at ``x0``): the estimate,
    standard errors (0 for the fixed ones) and the free ones' covariance (or None)."""
    def sub(z):
        full = x0.copy()
        full[mask] = z
        return nll(full)
    z, cov = mle_cov(sub, x0[mask], simplex=False)
    x, se = x0.copy(), np.zeros(len(x0))
    x[mask] = z
    se[mask] = np.sqrt(np.diag(cov)) if cov is not None else np.nan
    return x, se, cov


WTP_LOG_RANGE = 2.5  # a median this many log units from list, or a sigma above 2: unbounded


def _wtp_identified(x: np.ndarray, se: np.ndarray, list_price: float) -> bool:
    return (abs(x[0] - math.log(list_price)) < WTP_LOG_RANGE and x[1] < math.log(2.0)
            and bool(np.all(np.isfinite(se[:2]))) and se[0] < 1.0 and se[1] < 1.0)


def fit_segment_prices(fit: Fit, seg: str, opps: pd.DataFrame | None,
                       subs: pd.DataFrame | None, base, history_start) -> None:
    """The contract mix (subscriptions) and the price fits (opportunities) of one segment."""
    s = subs[subs["segment"] == seg] if subs is not None else None
    shares = fit_contract_mix(fit, seg, new_subscription_options(s, history_start), base) \
        if s is not None else {}
    if opps is None:
        return
    o = opps[opps["segment"] == seg]
    if history_start is not None:
        origin = pd.Timestamp(history_start)
    else:
        first = o["created_date"].min()
        origin = pd.Timestamp(year=first.year, month=1, day=1) if pd.notna(first) else None
    if origin is None:
        fit.unsupported.append(f"{seg}.willingness to pay and discounts: no opportunities")
        return
    fit_prices(fit, seg, o, s, base, origin, shares)
