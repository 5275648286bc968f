"""``revsim calibrate`` and ``revsim export`` end to end (the CLI only parses flags)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from sim.calibrate.fit import Inputs, calibrate
from sim.calibrate.mapping import apply_mapping, load_mapping
from sim.calibrate.mle import Fit
from sim.calibrate.schemas import DATE_MAX, DATE_MIN, header_check, read_table, validate
from sim.calibrate.write import scenario_yaml
from sim.errors import InputError, one_line
from sim.outputs.escape import inline_text


def read_inputs(files: dict[str, Path | None], segments: list[str],
                mapping: Path | None = None) -> Inputs:
    """Read, map and validate every given file; all problems of all files at once."""
    spec = load_mapping(mapping) if mapping is not None else {}
    given = {k: p for k, p in files.items() if p is not None}
    if not given:
        raise InputError("give at least one of --subscriptions, --opportunities, --leads, "
                         "--invoices, --finance")
    frames, problems, dropped = {}, [], []
    for kind, path in given.items():
        shown = inline_text(path)
        try:
            check = header_check(kind, segments, shown, spec.get(kind))
            df = apply_mapping(read_table(Path(path), check), spec.get(kind), shown, dropped)
            frames[kind] = validate(df, kind, segments, shown, spec=spec.get(kind))
        except InputError as exc:
            problems += str(exc).splitlines()
    if problems:
        raise InputError("\n".join(problems))
    return Inputs(**frames, dropped=dropped)


def parse_date(text: str, flag: str) -> pd.Timestamp:
    """A date flag: ISO, not empty, between 1900 and 2200 (the range of dates in the files)."""
    shown = one_line(repr(text), 60)
    try:
        when = pd.Timestamp(pd.to_datetime(str(text).strip(), format="ISO8601"))
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{flag}: not an ISO date (YYYY-MM-DD): {shown}") from None
    if pd.isna(when):
        raise InputError(f"{flag}: empty; give a date as YYYY-MM-DD")
    if when.tzinfo is not None:
        when = when.tz_localize(None)
    if not DATE_MIN <= when <= DATE_MAX:
        raise InputError(f"{flag}: {when.date()} is outside {DATE_MIN.year}-{DATE_MAX.year}")
    return when


DATE_COLUMNS = {"subscriptions": "start_date", "opportunities": "created_date",
                "leads": "month", "invoices": "issued_date", "finance": "month"}


MIN_HISTORY_DAYS = 90
"""Shortest history revsim calibrates from (about three months; an assumption): a shorter
window holds too few renewals, churn and paid invoices to fit, and a churn fit on days of
exposure reads as no churn at all (retention 1.0 with a tight-looking n)."""


def check_window(inputs: Inputs, when: pd.Timestamp,
                 since: pd.Timestamp | None) -> None:
    """Refuse a window with no data: ``--history-start`` on or after ``--as-of``, or no row of
    any given file known before ``--as-of`` (and, with ``--history-start``, still observed
    after it), naming the span the files cover."""
    if since is not None and since >= when:
        raise InputError(f"--history-start {since.date()}: on or after --as-of {when.date()} "
                         "(the history runs from --history-start to --as-of)")
    if since is not None and (when - since).days < MIN_HISTORY_DAYS:
        raise InputError(f"--history-start {since.date()}: only {(when - since).days} day(s) "
                         f"before --as-of {when.date()}; calibration needs at least "
                         f"{MIN_HISTORY_DAYS} days of history (give an earlier --history-start)")
    lo, hi, found = None, None, 0
    for kind, col in DATE_COLUMNS.items():
        df = getattr(inputs, kind)
        if df is None or df.empty:
            continue
        dates = df[col].dropna()
        if not dates.empty:
            lo = dates.min() if lo is None else min(lo, dates.min())
            hi = dates.max() if hi is None else max(hi, dates.max())
        known = df[col] < when
        if since is not None:
            end = {"subscriptions": "end_date", "opportunities": "closed_date",
                   "invoices": "paid_date"}.get(kind)
            known &= (df[end].isna() | (df[end] >= since)) if end else (df[col] >= since)
        found += int(known.sum())
    if not found:
        span = (f"the files run from {lo.date()} to {hi.date()}" if lo is not None
                else "the files have no dated rows")
        where = f"between --history-start {since.date()} and" if since is not None else "before"
        raise InputError(f"--as-of {when.date()}: no data rows {where} it ({span})")
    if lo is not None and (when - lo).days < MIN_HISTORY_DAYS:
        raise InputError(f"--as-of {when.date()}: the files start {lo.date()}, only "
                         f"{(when - lo).days} day(s) before it; calibration needs at least "
                         f"{MIN_HISTORY_DAYS} days of history")


def announce_fit(inputs: Inputs) -> None:
    """One stderr line before fitting large inputs (the fits take minutes on a million rows:
    the price fit is linear in the deals), so the wait is not silent."""
    import os
    import sys

    from sim.calibrate.readers import PROGRESS_ROWS

    n = sum(len(df) for df in (inputs.subscriptions, inputs.opportunities, inputs.leads,
                               inputs.invoices, inputs.finance) if df is not None)
    if n >= PROGRESS_ROWS and os.environ.get("REVSIM_PROGRESS", "auto") != "never":
        print(f"calibrating on {n:,} rows (about a minute per 50,000 deals)", file=sys.stderr,
              flush=True)


def cap_warnings(fit: Fit, base) -> None:
    """A warning for each count the scenario caps: installed customers beyond the base's
    market size are written as the market size."""
    for seg, spec in base.segments.items():
        est = fit.estimates.get(f"{seg}.installed_customers")
        if est is not None and est.value > spec.market_size_accounts:
            line = (f"segments.{seg}.installed_customers: {int(est.value):,} customers active at "
                    f"{fit.as_of}, written as {spec.market_size_accounts:,} (the base's "
                    f"market_size_accounts caps it; raise it in the base to keep them all)")
            if line not in fit.warnings:
                fit.warnings.append(line)


def calibrate_files(base_path: Path, files: dict[str, Path | None], as_of: str,
                    out: Path, mapping: Path | None = None,
                    history_start: str | None = None, correct: bool = False,
                    seed: int = 0, allow_large: bool = False) -> tuple[str, Fit]:
    """The calibrated scenario's text (checked by loading it) and the fit. ``correct``:
    churn inputs with the engine correction of ``sim.calibrate.correct`` (simulated
    histories with seeds from ``seed``; their work is checked first by ``sim.experiments.workload``,
    ``TooMuchWork`` beyond the limits unless ``allow_large``)."""
    from sim.scenario.io import ScenarioError, load_scenario

    base = load_scenario(base_path)
    when = parse_date(as_of, "--as-of")
    since = parse_date(history_start, "--history-start") if history_start else None
    if since is not None and since >= when:
        check_window(Inputs(), when, since)
    inputs = read_inputs(files, list(base.segments), mapping)
    check_window(inputs, when, since)
    announce_fit(inputs)
    fit = calibrate(inputs, base, when, since)
    cap_warnings(fit, base)
    shown = [f"{k}={p}" for k, p in files.items() if p is not None]
    out_dir = Path(out).absolute().parent
    out_dir.mkdir(parents=True, exist_ok=True)

    def check(fit, extra=None, ranges=False):
        from sim.calibrate.uncertainty import fitted_block

        joint = fitted_block(fit, base) if ranges else None
        text = scenario_yaml(fit, base, base_path, out, shown, extra, joint)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=out_dir, prefix=".check-",
                                         delete=True, encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            try:
                return text, load_scenario(Path(fh.name))
            except ScenarioError as exc:  # a fit outside the scenario's ranges: say which
                raise InputError("calibrated scenario is not valid: "
                                 + "; ".join(exc.lines)) from None

    text, scenario = check(fit)
    if correct and inputs.subscriptions is not None:  # the engine's realised churn = the data's
        from sim.calibrate.correct import (
            correct_churn,
            correction_label,
            correction_work,
            opening_at,
            window_start,
            with_opening,
        )
        from sim.calibrate.timeline import month_index, shifted_plan
        from sim.experiments.workload import require

        subs = inputs.subscriptions
        start_w = window_start(subs, since, when)
        # the state and plan at the window's start: the plan starts at its calendar's month
        # (else at --as-of), so before it the starting values hold and its steps come later
        plan_start = (pd.Timestamp(base.calendar.start_month + "-01")
                      if base.calendar is not None else when)
        then = shifted_plan(base, month_index(start_w) - month_index(plan_start))
        if base.calendar is not None:
            then[0][("calendar",)] = {"start_month": f"{start_w:%Y-%m}", "fiscal_year_start_month":
                                      base.calendar.fiscal_year_start_month}
        _, history = check(with_opening(fit, opening_at(inputs, base, start_w)), then)
        require(correction_work(history, start_w, when), 1, allow_large, None,
                correction_label(start_w, when))
        fit = correct_churn(fit, base, history, subs, start_w, when, seed=seed)
    text, _ = check(fit, ranges=True)  # the written scenario carries the fit's uncertainty
    return text, fit
