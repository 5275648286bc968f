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
                    seed: int = 0) -> tuple[str, Fit]:
    """The calibrated scenario's text (checked by loading it) and the fit. ``correct``:
    churn inputs with the engine correction of ``sim.calibrate.correct`` (simulated
    histories with seeds from ``seed``)."""
    from sim.scenario_io import ScenarioError, load_scenario

    base = load_scenario(base_path)
    when = parse_date(as_of, "--as-of")
    since = parse_date(history_start, "--history-start") if history_start else None
    inputs = read_inputs(files, list(base.segments), mapping)
    fit = calibrate(inputs, base, when, since)
    shown = [f"{k}={p}" for k, p in files.items() if p is not None]
    out_dir = Path(out).absolute().parent
    out_dir.mkdir(parents=True, exist_ok=True)

    def check(fit):
        text = scenario_yaml(fit, base, base_path, out, shown)
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
        from sim.calibrate.correct import correct_churn, opening_at, window_start, with_opening

        subs = inputs.subscriptions
        start_w = window_start(subs, since, when)
        _, history = check(with_opening(fit, opening_at(inputs, base, start_w)))
        fit = correct_churn(fit, base, history, subs, start_w, when, seed=seed)
        text, _ = check(fit)
    return text, fit
