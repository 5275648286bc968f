"""``revsim calibrate`` and ``revsim export`` end to end (the CLI only parses flags)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from sim.atomic import FILE_KINDS
from sim.calibrate.fit import Fit, Inputs, calibrate
from sim.calibrate.mapping import apply_mapping, load_mapping
from sim.calibrate.schemas import read_table, validate
from sim.calibrate.write import HEADER, scenario_yaml
from sim.errors import InputError


def _is_calibrated(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(HEADER)).decode("utf-8", "replace") == HEADER


FILE_KINDS.setdefault("calibrated", _is_calibrated)


def read_inputs(files: dict[str, Path | None], segments: list[str],
                mapping: Path | None = None) -> Inputs:
    """Read, map and validate every given file; all problems of all files at once."""
    spec = load_mapping(mapping) if mapping is not None else {}
    given = {k: p for k, p in files.items() if p is not None}
    if not given:
        raise InputError("give at least one of --subscriptions, --opportunities, --leads, "
                         "--invoices")
    frames, problems = {}, []
    for kind, path in given.items():
        shown = str(path)
        try:
            df = apply_mapping(read_table(Path(path)), spec.get(kind), shown)
            frames[kind] = validate(df, kind, segments, shown)
        except InputError as exc:
            problems += str(exc).splitlines()
    if problems:
        raise InputError("\n".join(problems))
    return Inputs(**frames)


def parse_date(text: str, flag: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(pd.to_datetime(text, format="ISO8601"))
    except (ValueError, TypeError):
        raise InputError(f"{flag}: not an ISO date (YYYY-MM-DD): {text!r}") from None


def calibrate_files(base_path: Path, files: dict[str, Path | None], as_of: str,
                    out: Path, mapping: Path | None = None,
                    history_start: str | None = None, correct: bool = False,
                    seed: int = 0, allow_large: bool = False) -> tuple[str, Fit]:
    """The calibrated scenario's text (checked by loading it) and the fit. ``correct``:
    churn inputs with the engine correction of ``sim.calibrate.correct`` (simulated
    histories with seeds from ``seed``; their work is checked first by ``sim.workload``,
    ``TooMuchWork`` beyond the limits unless ``allow_large``)."""
    from sim.scenario_io import ScenarioError, load_scenario

    base = load_scenario(base_path)
    when = parse_date(as_of, "--as-of")
    since = parse_date(history_start, "--history-start") if history_start else None
    inputs = read_inputs(files, list(base.segments), mapping)
    fit = calibrate(inputs, base, when, since)
    shown = [f"{k}={p}" for k, p in files.items() if p is not None]
    out_dir = Path(out).absolute().parent
    out_dir.mkdir(parents=True, exist_ok=True)

    def check(fit, extra=None):
        text = scenario_yaml(fit, base, base_path, out, shown, extra)
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
        from sim.calibrate.backtest import month_index, shifted_plan
        from sim.calibrate.correct import (
            correct_churn,
            correction_label,
            correction_work,
            opening_at,
            window_start,
            with_opening,
        )
        from sim.workload import require

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
        text, _ = check(fit)
    return text, fit
