"""``revsim report``: run the scenarios once, execute the notebooks (Papermill), export HTML,
write the Excel workbook and the index page — all in a temporary folder renamed into place.

Each scenario is simulated once, in-process (one ``compare`` over the whole set, so every
scenario shares the same random streams); the results are saved under ``data/<slug>/`` as
Parquet tables and JSON (never pickles: opening a shared report runs no code) and the
notebooks load them (parameter ``results_file``), so no simulation runs twice. The executed
notebooks record their parameters (Papermill) and can be re-run from their folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.bundled import NOTEBOOKS
from sim.errors import RevsimError
from sim.experiments.compare import compare_adaptive
from sim.experiments.results import run_experiment
from sim.experiments.settings import RunSettings
from sim.kpis import fmt_dollars
from sim.outputs.atomic import Claim, OutputError, claim
from sim.outputs.escape import terminal_text
from sim.report import freshness
from sim.report.entries import Entry
from sim.report.index import write_index
from sim.report.jupyter import (
    clean_stale_jupyter_folders,
    execute_notebook,
    export_html,
    hermetic_jupyter,
    notebook_error,
    write_kernelspec,
)
from sim.report.jupyter import one_line as _one_line
from sim.report.progress import Pace, StepBar, heartbeat, progress_mode, simulation_lines, step
from sim.report.store import save_result
from sim.report.workbook import WORKBOOK, write_workbook
from sim.scenario.io import ScenarioError, load_scenario
from sim.scenario.uncertainty import fixed_parameters

if TYPE_CHECKING:
    pass

__all__ = ["NOTEBOOKS", "WORKBOOK", "build_report", "clean_stale_jupyter_folders",
           "execute_notebook", "export_html", "hermetic_jupyter", "notebook_error",
           "write_index", "write_kernelspec", "write_workbook"]
EXIT_OK, EXIT_SCENARIO_FAILED, EXIT_INVALID = 0, 1, 2


# ---------------------------------------------------------------- experiments


def _slugs(paths: Sequence[Path]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", p.stem) or "scenario"
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}-{n + 1}")
    return out


def _load(entries: list[Entry], months: int | None) -> None:
    overrides = {"horizon_months": int(months)} if months else None
    for e in entries:
        try:
            e.scenario = load_scenario(e.path, overrides)
        except ScenarioError as exc:
            e.error = _one_line(str(exc))
        except Exception as exc:  # unreadable file and the like
            e.error = f"{e.path}: {_one_line(f'{type(exc).__name__}: {exc}')}"


REPORT_PRECISION_FRAC = 0.10
"""Default precision of ``revsim report``: replications are added until every plan's 95%
interval on its mean NPV-of-operating-profit difference to the base is within ± this share of
the base's mean NPV (``--precision USD`` sets an amount instead)."""
REPORT_INITIAL_REPS = 10
"""Replications of the first round of an adaptive report."""
REPORT_MAX_REPS = 100
"""Most replications an adaptive report runs (``--max-reps``); a warning says when it stops
there before the precision is reached."""
REPORT_FIXED_REPS = 20
"""Replications of a report of one scenario (nothing to compare, so nothing to adapt to)."""


@dataclass
class Replications:
    """How many replications a report runs: ``fixed`` (``--reps N``), or adaptive up to a
    precision — ``precision`` USD, or when None ``REPORT_PRECISION_FRAC`` of the base's NPV —
    starting at ``initial`` and stopping at ``max_replications``. After the run ``count`` and
    ``reached`` (a :class:`sim.experiments.experiment.Precision`) say what happened."""

    fixed: int | None = None
    precision: float | None = None
    initial: int = REPORT_INITIAL_REPS
    max_replications: int = REPORT_MAX_REPS
    count: int | None = None
    reached: Any = None

    @property
    def adaptive(self) -> bool:
        return self.fixed is None or self.precision is not None

    def note(self) -> str:
        """One sentence for the index page and the workbook: how many ran and why."""
        n = self.count
        if self.reached is None:
            why = ("set with --reps" if not self.adaptive
                   else "fixed: one scenario, so no difference to make precise")
            return f"{n} replications per scenario ({why})."
        p = self.reached
        state = "reached" if p.reached else "NOT reached (stopped at the cap)"
        share = f", {p.target_frac:.0%} of the base's mean" if p.target_frac is not None else ""
        return (f"{n} replications per scenario, chosen adaptively (at most "
                f"{self.max_replications}): the widest 95% interval on a plan's mean NPV-of-"
                f"operating-profit difference is ±{fmt_dollars(p.half_width)} against a target "
                f"of ±{fmt_dollars(p.target_half_width)}{share}; precision {state}.")


def _simulate(entries: list[Entry], reps: Replications, seed: int, executor: str,
              scheduler: str | None = None, progress: bool = False,
              on_round=None, draws: bool = True) -> None:
    """All valid scenarios in one ``compare`` (shared streams, one pool), adaptive when
    ``reps`` asks for a precision; if that fails, each on its own (at the count reached, or
    ``REPORT_FIXED_REPS``) so one broken scenario does not sink the others."""
    valid = [e for e in entries if e.ok]
    adaptive = reps.adaptive and len(valid) > 1
    reps.count = reps.fixed if reps.fixed is not None and not adaptive else REPORT_FIXED_REPS
    first = min(reps.fixed or reps.initial, reps.max_replications) if adaptive else reps.count
    relative = reps.precision is None
    target = (REPORT_PRECISION_FRAC if relative else reps.precision) if adaptive else None
    try:
        cmp, reps.reached = compare_adaptive(
            valid[0].scenario, [e.scenario for e in valid[1:]],
            RunSettings(first, seed, executor, scheduler, progress=progress,
                        parameter_draws=draws), target,
            max_replications=reps.max_replications, relative=relative, on_round=on_round)
        if reps.reached is not None:
            reps.count = reps.reached.replications
        if draws and cmp.others and valid[0].scenario.uncertainty is not None:
            from sim.experiments.uncertainty import flip_thresholds

            settings = RunSettings(reps.count, seed, executor, scheduler)
            cmp.base.stats["flips"] = [f.record() for f in flip_thresholds(cmp, settings)]
        for e, r in zip(valid, cmp.results, strict=True):
            e.result = r
        return
    except RevsimError:  # the cluster or the machine failed: no scenario would do better
        raise
    except Exception:  # noqa: BLE001 - fall back to one scenario at a time
        pass
    reps.reached = None
    for e in valid:
        try:
            e.result = run_experiment(e.scenario, settings=RunSettings(
                reps.count, seed, executor, scheduler, parameter_draws=draws))
        except Exception as exc:
            e.error = f"{e.path.name}: simulation failed: {_one_line(f'{type(exc).__name__}: {exc}')}"


# ---------------------------------------------------------------- the whole build


def build_report(paths: Sequence[str | Path], replications: int | None = None, seed: int = 0,
                 out_dir: str | Path = "reports", executor: str = "process",
                 months: int | None = None, scheduler: str | None = None,
                 precision: float | None = None,
                 max_replications: int = REPORT_MAX_REPS,
                 fixed_parameters: bool = False) -> int:
    """Build the report folder for ``paths`` (first = base) and return an exit code:
    0 all good, 1 some scenario or notebook failed (marked in the index), 2 no scenario could
    be loaded (nothing written; an earlier report stays as it was).

    Replications: ``replications`` alone runs that many; by default (None) they are added
    until every plan's 95% interval on its NPV difference to the base is within
    ±``precision`` USD, or ±``REPORT_PRECISION_FRAC`` of the base's NPV when ``precision`` is
    None, starting from ``replications`` (default ``REPORT_INITIAL_REPS``) and stopping at
    ``max_replications`` with a one-line warning. One scenario runs ``REPORT_FIXED_REPS``.
    Values with a range are drawn in every replication unless ``fixed_parameters``."""
    reps = Replications(fixed=replications, precision=precision,
                        max_replications=max_replications)
    t0 = time.perf_counter()
    # a file named twice (e.g. `baseline.yaml scenarios/*.yaml`) is reported once, first place
    seen: set[Path] = set()
    paths = [p for p in map(Path, paths) if not (p.resolve() in seen or seen.add(p.resolve()))]
    if not paths:
        print("revsim report: no scenario files given", file=sys.stderr)
        return EXIT_INVALID
    entries = [Entry(p, s) for p, s in zip(paths, _slugs(paths), strict=True)]
    try:
        dest = claim(out_dir)  # checked and locked before any work
    except OutputError as exc:
        print(terminal_text(str(exc)), file=sys.stderr)
        return exc.code
    with dest:
        return _build(entries, dest, out_dir, reps, seed, executor, months, scheduler, t0,
                      not fixed_parameters)


def _build(entries: list[Entry], dest: Claim, out_dir: str | Path, reps: Replications,
           seed: int, executor: str, months: int | None, scheduler: str | None,
           t0: float, draws: bool = True) -> int:
    _load(entries, months)
    if not draws:
        for e in entries:
            e.scenario = fixed_parameters(e.scenario) if e.scenario is not None else None
    if not any(e.ok for e in entries):
        for e in entries:
            print(terminal_text(e.error), file=sys.stderr)
        print(terminal_text(f"revsim report: no valid scenario; {out_dir} left unchanged"),
              file=sys.stderr)
        return EXIT_INVALID
    shown = Path(out_dir)
    key = freshness.inputs_key(entries, {"seed": seed, "reps": reps.fixed, "months": months,
                                         "precision": reps.precision, "initial": reps.initial,
                                         "max_reps": reps.max_replications, "draws": draws})
    if freshness.up_to_date(out_dir, key):
        print(terminal_text(f"report: {shown / 'index.html'} is up to date: nothing changed "
                            f"since it was built (--no-cache builds it again)"), flush=True)
        return EXIT_OK
    compare_entry: dict = {}
    kept = None  # where a failed build over an earlier report went instead (see _divert)
    try:
        with contextlib.ExitStack() as claims, hermetic_jupyter(), \
                dest.folder("report") as tmp:
            def round_done(n: int, widest: float, target: float) -> None:
                step(f"ran {n} replications of each scenario: widest 95% half-width of an "
                      f"NPV difference {fmt_dollars(widest)} (target {fmt_dollars(target)})", t0)

            with simulation_lines():
                _simulate(entries, reps, seed, executor, scheduler,
                          progress=progress_mode() != "never", on_round=round_done,
                          draws=draws)
            replications = reps.count
            if reps.reached is not None and not reps.reached.reached:
                print(terminal_text(f"revsim report: warning: {reps.reached.message()}"),
                      file=sys.stderr, flush=True)
            step(f"simulated {sum(e.result is not None for e in entries)} scenario(s), "
                  f"{replications} replications each", t0)
            for sub in ("data", "notebooks", "html"):
                (tmp / sub).mkdir()
            jobs = []
            for e in entries:
                if e.result is None:
                    continue
                save_result(e.result, tmp / "data" / e.slug)
                params = {"scenario": str(e.path.resolve()), "project_root": "..",
                          "results_file": f"../data/{e.slug}",
                          "replications": replications, "seed": seed, "months": months,
                          "executor": "serial"}
                jobs.append(("scenario_report", e.slug, params, e, e.result.name))
            base = entries[0]
            done = [e for e in entries if e.result is not None]
            if base.result is not None:
                params = {"scenarios": [str(e.path.resolve()) for e in done],
                          "project_root": "..",
                          "results_files": [f"../data/{e.slug}" for e in done],
                          "replications": replications, "seed": seed, "months": months,
                          "executor": "serial"}
                compare_entry["base"] = base.result.name
                jobs.append(("compare_scenarios", "compare_scenarios", params, compare_entry,
                             f"Comparison against {base.result.name}"))
            elif len(entries) > 1:
                compare_entry["error"] = f"base scenario failed: {base.error}"
            pace = Pace(len(jobs), _notebook_workers(jobs))
            with StepBar(len(jobs) + 2), heartbeat(pace.status, t0):  # + workbook, pack
                _run_notebooks(jobs, tmp, t0, pace)
                errors = [e.error for e in entries if e.error]
                if compare_entry.get("error"):
                    errors.append(f"comparison: {compare_entry['error']}")
                if errors and dest.earlier:
                    kept = _divert(dest, claims, out_dir)
                for error in errors:
                    tail = f"; {shown} keeps the earlier report" if dest.earlier else ""
                    print(terminal_text(error + tail), file=sys.stderr)
                decision = _decision(entries)
                write_workbook(tmp / WORKBOOK, entries, seed, replications, decision,
                               reps.note())
                step(f"wrote {WORKBOOK}", t0)
                pack = _board_pack(decision, tmp)
                if pack:
                    step("wrote board_pack.pdf", t0)
                verdict_block = ""
                if decision is not None:
                    from sim.report.board_pack import verdict_html

                    verdict_block = verdict_html(decision)
                wall = time.perf_counter() - t0
                write_index(tmp / "index.html", entries, compare_entry, seed, replications,
                            months, wall, verdict_block, pack, reps.note())
    except OutputError as exc:
        print(terminal_text(str(exc)), file=sys.stderr)
        return exc.code
    except OSError as exc:
        print(terminal_text(f"revsim report: could not write {out_dir} ({exc.strerror or exc}); "
                            f"nothing was written there, an earlier report is unchanged"),
              file=sys.stderr)
        return EXIT_SCENARIO_FAILED
    except RevsimError as exc:  # a lost cluster, a full disk: one line, its own exit code
        print(terminal_text(f"revsim report: build failed, {out_dir} left unchanged: "
                            f"{_one_line(exc)}"), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        print(terminal_text(f"revsim report: build failed, {out_dir} left unchanged: "
                            f"{_one_line(f'{type(exc).__name__}: {exc}')}"), file=sys.stderr)
        return EXIT_SCENARIO_FAILED
    failed = sum(1 for e in entries if e.error) + bool(compare_entry.get("error"))
    wall = time.perf_counter() - t0
    if failed and dest.earlier:
        where = (f"the partial report is in {kept / 'index.html'}" if kept else
                 "the partial report was not kept")
        print(terminal_text(f"revsim report: {failed} part(s) failed; {shown} keeps the earlier "
                            f"report, {where}"), file=sys.stderr)
        return EXIT_SCENARIO_FAILED
    if not failed:
        freshness.remember(out_dir, key)
    print(terminal_text(f"report: {shown / 'index.html'} ({len(entries)} scenario(s), "
                        f"{failed} failed) in {wall:.0f} s"))
    return EXIT_SCENARIO_FAILED if failed else EXIT_OK


def _divert(dest: Claim, claims: contextlib.ExitStack, out_dir: str | Path) -> Path | None:
    """Some parts failed and ``dest`` holds an earlier report: the new, partial one goes to
    the sibling ``NAME.failed`` (revsim's by the same manifest rule, replaced by the next
    failed build) and the earlier report stays. Returns that folder as the user would name
    it, or None when it may not be written (one line; the partial report is discarded)."""
    shown = Path(out_dir)
    shown = shown.with_name(f"{shown.name}.failed")
    try:
        failed = claims.enter_context(claim(shown, flag="partial report"))
    except OutputError as exc:
        print(terminal_text(str(exc)), file=sys.stderr)
        dest.divert(None)
        return None
    dest.divert(failed)
    return shown


def _decision(entries: Sequence[Entry]):
    """The comparison behind the verdict: every scenario that ran, the base first; None when
    the base failed."""
    from sim.experiments.experiment import compare_of

    done = [e.result for e in entries if e.result is not None and e.ok]
    if not done or entries[0].result is None:
        return None
    return compare_of(done)


def _board_pack(decision, tmp: Path) -> bool:
    """board_pack.pdf from the same numbers; a missing or failing browser is one line on
    stderr and the rest of the report stands."""
    if decision is None:
        return False
    from sim.report.board_pack import write_board_pack

    try:
        write_board_pack(decision, tmp)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(terminal_text(f"revsim report: no board pack: {_one_line(str(exc))}"),
              file=sys.stderr)
        return False
    return True


def _notebook_workers(jobs: list) -> int:
    return max(1, min(2, os.cpu_count() or 1, len(jobs)))


def _run_notebooks(jobs: list[tuple], tmp: Path, t0: float | None = None,
                   pace: Pace | None = None) -> None:
    """Execute and export the notebooks, two at a time (each runs in its own kernel)."""
    t_start = time.perf_counter() if t0 is None else t0
    pace = pace or Pace(len(jobs), _notebook_workers(jobs))

    def run(job):
        pace.begin()
        try:
            one(job)
        finally:
            pace.end()

    def one(job):
        name, slug, params, target, title = job
        out_nb = tmp / "notebooks" / f"{slug}.ipynb"
        out_html = tmp / "html" / f"{slug}.html"
        files = target.files if isinstance(target, Entry) else target.setdefault("files", {})
        try:
            execute_notebook(name, out_nb, params, cwd=tmp / "notebooks")
            step(f"ran notebook {slug}", t_start)
        except Exception as exc:
            msg = notebook_error(out_nb, exc)
            if isinstance(target, Entry):
                target.error = msg
            else:
                target["error"] = msg
            if out_nb.exists():
                files["Executed notebook (failed)"] = f"notebooks/{slug}.ipynb"
            return
        export_html(out_nb, out_html, title)
        files["Report (HTML)"] = f"html/{slug}.html"
        files["Executed notebook"] = f"notebooks/{slug}.ipynb"

    with ThreadPoolExecutor(max_workers=_notebook_workers(jobs)) as pool:
        for fut in [pool.submit(run, j) for j in jobs]:
            fut.result()
