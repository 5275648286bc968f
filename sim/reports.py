"""The automated report: run the scenarios once, execute the notebooks, write HTML, Excel and
an index page — all in a temporary folder renamed into place at the end.

Each scenario is simulated once, in-process (one ``compare`` over the whole set, so every
scenario shares the same random streams); the results are saved under ``data/<slug>/`` as
Parquet tables and JSON (never pickles: opening a shared report runs no code) and the
notebooks load them (parameter ``results_file``), so no simulation runs twice. The executed
notebooks record their parameters (Papermill) and can be re-run from their folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sim import notebook_helpers as nbh
from sim.atomic import Claim, OutputError, claim
from sim.bundled import NOTEBOOKS
from sim.errors import RevsimError
from sim.escape import (
    excel_frame,
    excel_text,
    html_text,
    neutralise_formulas,
    svg_html,
    terminal_text,
)
from sim.experiment import ExperimentResult, compare, run_experiment
from sim.scenario import Scenario
from sim.scenario_io import ScenarioError, load_scenario, scenario_hash

WORKBOOK = "revsim_report.xlsx"
EXIT_OK, EXIT_SCENARIO_FAILED, EXIT_INVALID = 0, 1, 2
INDEX_KPIS = ("revenue_total", "operating_profit_total", "ending_arr", "net_new_arr_total",
              "nrr_last_year", "cash_trough")

# nbconvert's lab template loads require.js, MathJax and Mermaid from CDNs; the report must
# open offline, so those blocks are emptied. Charts are written as inline <svg> elements (the
# stock template wraps them in <img> data URIs or escapes them), but only after
# sim.escape.svg_html has checked that the SVG cannot run code (vl-convert escapes every text
# it draws; anything else falls back to an <img>, where browsers never run scripts).
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
{{ output.data['image/svg+xml'] | revsim_svg }}
</div>
{%- endblock data_svg -%}
{%- block extra_css -%}
<style>
body { max-width: 1100px; margin: 0 auto; }
.jp-RenderedHTMLCommon table { font-size: 13px; }
.jp-RenderedHTMLCommon caption { font-weight: bold; text-align: left; }
</style>
{%- endblock extra_css -%}
"""


@dataclass
class _Entry:
    """One scenario of the report and what became of it."""

    path: Path
    slug: str
    scenario: Scenario | None = None
    result: ExperimentResult | None = None
    error: str | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------- hermetic Jupyter


def write_kernelspec(folder: str | Path) -> Path:
    """A ``python3`` kernel spec for this interpreter under ``folder/kernels``."""
    spec = Path(folder) / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=ERROR"],
        "display_name": "Python 3 (revsim)", "language": "python",
        "metadata": {"debugger": False}}, indent=1))
    return spec


_JUPYTER_PREFIX = "revsim-jupyter-"


def clean_stale_jupyter_folders(tmp: str | Path | None = None) -> list[Path]:
    """Remove the private Jupyter folders (``revsim-jupyter-PID-*`` in the temp folder) of
    report builds that were killed: their PID is no longer running."""
    removed = []
    for p in Path(tmp or tempfile.gettempdir()).glob(f"{_JUPYTER_PREFIX}*-*"):
        pid = p.name[len(_JUPYTER_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or p.is_symlink() or not p.is_dir() or p.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


@contextlib.contextmanager
def hermetic_jupyter(folder: str | Path | None = None) -> Iterator[dict[str, str]]:
    """Run notebooks with this interpreter's kernel and no user Jupyter/IPython config:
    ``JUPYTER_PATH`` points at a fresh ``python3`` kernel spec, and the config, data, runtime
    and IPython folders are private. The environment is restored on exit."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            clean_stale_jupyter_folders()
        root = Path(folder) if folder else Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix=f"{_JUPYTER_PREFIX}{os.getpid()}-")))
        share = root / "share"
        write_kernelspec(share)
        env = {"JUPYTER_PATH": str(share), "JUPYTER_CONFIG_DIR": str(root / "config"),
               "JUPYTER_DATA_DIR": str(root / "data"),
               "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
               "IPYTHONDIR": str(root / "ipython"), "JUPYTER_PLATFORM_DIRS": "1",
               "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        for key in ("runtime", "ipython", "config", "data"):
            (root / key).mkdir(parents=True, exist_ok=True)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# ---------------------------------------------------------------- notebooks


def _quiet_kernel_manager():
    """jupyter_client interrupts (SIGINT) a kernel before asking it to shut down; a kernel
    that is still answering a message then logs ``KeyboardInterrupt caught in kernel`` at
    ERROR level after every successful notebook. Once the notebook has finished the shutdown
    request alone stops the kernel (and jupyter_client still kills one that does not stop), so
    this manager skips that interrupt; interrupts during execution (a cell time-out) stay."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def execute_notebook(name: str, output: Path, parameters: dict, cwd: Path,
                     timeout: int = 900) -> None:
    """Execute ``notebooks/<name>.ipynb`` with Papermill into ``output``."""
    import papermill as pm

    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters,
                        cwd=str(cwd), kernel_name="python3", progress_bar=False,
                        log_output=False, request_save_on_cell_execute=False,
                        execution_timeout=timeout,
                        kernel_manager_class=_quiet_kernel_manager())


def export_html(notebook: Path, output: Path, title: str) -> None:
    """Executed notebook → standalone HTML with code hidden and no network scripts."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True,
                            extra_loaders=[DictLoader({"revsim.html.j2": _TEMPLATE})],
                            template_file="revsim.html.j2")
    exporter.register_filter("revsim_svg", svg_html)
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)
    body, _ = exporter.from_notebook_node(nb)
    output.write_text(body, encoding="utf-8")


def notebook_error(notebook: Path, exc: BaseException) -> str:
    """One line naming what failed in an executed notebook."""
    name = type(exc).__name__
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{name}: {exc}"
    return f"{notebook.name}: {_one_line(text)}"


def _one_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (lines[0] if lines else "error")[:400]


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


def _load(entries: list[_Entry], months: int | None) -> None:
    overrides = {"horizon_months": int(months)} if months else None
    for e in entries:
        try:
            e.scenario = load_scenario(e.path, overrides)
        except ScenarioError as exc:
            e.error = _one_line(str(exc))
        except Exception as exc:  # unreadable file and the like
            e.error = f"{e.path}: {_one_line(f'{type(exc).__name__}: {exc}')}"


def _simulate(entries: list[_Entry], replications: int, seed: int, executor: str,
              scheduler: str | None = None) -> None:
    """All valid scenarios in one ``compare`` (shared streams, one pool); if that fails, each
    on its own so one broken scenario does not sink the others."""
    valid = [e for e in entries if e.ok]
    try:
        cmp = compare(valid[0].scenario, [e.scenario for e in valid[1:]],
                      replications=replications, seed=seed, executor=executor,
                      scheduler=scheduler)
        for e, r in zip(valid, cmp.results, strict=True):
            e.result = r
        return
    except RevsimError:  # the cluster or the machine failed: no scenario would do better
        raise
    except Exception:  # noqa: BLE001 - fall back to one scenario at a time
        pass
    for e in valid:
        try:
            e.result = run_experiment(e.scenario, replications=replications, seed=seed,
                                      executor=executor, scheduler=scheduler)
        except Exception as exc:
            e.error = f"{e.path.name}: simulation failed: {_one_line(f'{type(exc).__name__}: {exc}')}"


# ---------------------------------------------------------------- Excel


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in used:
        suffix = f" ({n})"
        out, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(out.lower())
    return out


def write_workbook(path: Path, entries: Sequence[_Entry], seed: int, replications: int,
                   decision=None) -> None:
    """Finance workbook: a sheet per scenario (annual P&L, KPI summary), a comparison sheet and
    the resolved assumptions flattened to key/value rows (one value column per scenario);
    with ``decision`` (a CompareResult), the verdict, profit bridge and three statements
    sheets (monthly, quarterly, fiscal year) of every plan."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    done = [e for e in entries if e.result is not None and e.ok]
    used: set[str] = {"comparison", "assumptions", "about"}
    bold = Font(bold=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        about = pd.DataFrame(
            [("Generated (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")), ("Seed", seed),
             ("Replications", replications)]
            + [(f"Scenario {e.slug}", "FAILED: " + e.error if e.error else
                f"hash {scenario_hash(e.scenario)}") for e in entries],
            columns=["Item", "Value"])
        excel_frame(about).to_excel(xl, sheet_name="About", index=False)
        for e in done:
            r = e.result
            name = _sheet_name(e.slug, used)
            pnl = nbh.annual_pnl_table(r)
            excel_frame(pnl).to_excel(xl, sheet_name=name, startrow=1)
            ws = xl.sheets[name]
            ws.cell(row=1, column=1, value=excel_text(
                f"{r.name}: annual P&L, mean of {r.replications} replications (USD)")).font = bold
            row = len(pnl) + 4
            kp = r.kpi_summary[["label", "p10", "p50", "p90", "mean"]].rename(
                columns={"label": "KPI", "p10": "P10", "p50": "P50", "p90": "P90",
                         "mean": "Mean"})
            ws.cell(row=row, column=1, value="KPI summary across replications").font = bold
            excel_frame(kp).to_excel(xl, sheet_name=name, startrow=row, index=False)
            tg = nbh.targets_table(r)
            if not tg.empty:
                trow = row + len(kp) + 3
                ws.cell(row=trow, column=1, value="Targets: probability of hitting").font = bold
                excel_frame(tg).to_excel(xl, sheet_name=name, startrow=trow, index=False)
            for i, label in enumerate(pnl.index, start=3):
                fmt = "0.0%" if "margin" in str(label).lower() else "#,##0"
                for j in range(2, len(pnl.columns) + 2):
                    ws.cell(row=i, column=j).number_format = fmt
            for rr in range(row + 2, row + 2 + len(kp)):
                for j in range(2, 6):
                    ws.cell(row=rr, column=j).number_format = "#,##0.00"
            ws.column_dimensions["A"].width = 38
            for j in range(2, 8):
                ws.column_dimensions[get_column_letter(j)].width = 16
        if done:
            table = pd.concat(
                [e.result.kpi_summary.set_index("label")["p50"].rename(e.result.name)
                 for e in done], axis=1)
            table.index.name = "KPI (P50)"
            excel_frame(table).to_excel(xl, sheet_name="Comparison", startrow=1)
            ws = xl.sheets["Comparison"]
            ws.cell(row=1, column=1, value=excel_text(
                f"P50 of each KPI; base: {done[0].result.name}")).font = bold
            if len(done) > 1 and entries[0].result is not None:
                deltas = nbh.deltas_table(done[0].result, [e.result for e in done[1:]])
                start = len(table) + 4
                ws.cell(row=start, column=1, value="Paired differences vs the base "
                        "(95% CI, probability of beating the base)").font = bold
                excel_frame(deltas.drop(columns=["kpi"])).to_excel(xl, sheet_name="Comparison",
                                                      startrow=start, index=False)
                diffs = nbh.pnl_differences_table(
                    nbh.CompareResult(done[0].result, [e.result for e in done[1:]], deltas))
                start2 = start + len(deltas) + 3
                ws.cell(row=start2, column=1,
                        value="Annual P&L minus the base (means, USD)").font = bold
                excel_frame(diffs).to_excel(xl, sheet_name="Comparison", startrow=start2,
                                            index=False)
            ws.column_dimensions["A"].width = 34
            for j in range(2, 12):
                ws.column_dimensions[get_column_letter(j)].width = 18
            assumptions = None
            for e in done:
                col = nbh.assumptions_table(e.scenario).set_index("key")["value"].rename(
                    e.result.name)
                assumptions = col.to_frame() if assumptions is None else assumptions.join(
                    col, how="outer", sort=False)
            assumptions.index.name = "key"
            excel_frame(assumptions).to_excel(xl, sheet_name="Assumptions")
            ws = xl.sheets["Assumptions"]
            ws.column_dimensions["A"].width = 60
            for j in range(2, len(done) + 2):
                ws.column_dimensions[get_column_letter(j)].width = 22
        if decision is not None:
            from sim.finance_excel import add_decision_sheets

            add_decision_sheets(xl.book, decision)
            xl.book.move_sheet("Verdict", offset=-xl.book.sheetnames.index("Verdict"))
        # scenario text is data: no cell may become a formula (OWASP CSV injection)
        neutralise_formulas(xl.book)


# ---------------------------------------------------------------- index


_CSS = """
body { font-family: Helvetica, Arial, sans-serif; max-width: 1000px; margin: 2em auto;
       color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; font-size: 0.9em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.8em 1.2em; margin: 1em 0; }
.card.failed { border-color: #d1495b; background: #fdf1f2; }
.failed-label { color: #d1495b; font-weight: bold; }
table { border-collapse: collapse; font-size: 0.92em; }
td, th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
code { background: #f3f3f3; padding: 0 3px; }
.verdict table { width: 100%; } .verdict th, .verdict td { padding: 3px 8px 3px 0; }
.verdict td.text { max-width: 18em; } .verdict .note { color: #555; font-size: 0.9em; }
.verdict li { margin-bottom: 0.4em; }
"""


def write_index(path: Path, entries: Sequence[_Entry], compare_entry: dict, seed: int,
                replications: int, months: int | None, wall_seconds: float,
                verdict_block: str = "", board_pack: bool = False) -> None:
    """index.html: every scenario with its description, headline KPIs, links, seed, hash;
    failures with their error. All scenario text is HTML-escaped."""
    esc = html_text
    cards = []
    for e in entries:
        title = esc(e.scenario.name if e.scenario else e.path.stem)
        if e.error:
            links = "".join(f' · <a href="{esc(href)}">{esc(label)}</a>'
                            for label, href in e.files.items())
            cards.append(
                f'<div class="card failed" id="{esc(e.slug)}"><h2>{title}</h2>'
                f'<p><span class="failed-label">FAILED</span>: <code>{esc(e.error)}</code></p>'
                f"<p class=\"meta\">File {esc(str(e.path))}{links}</p></div>")
            continue
        r = e.result
        kp = nbh.headline_table(r, INDEX_KPIS)
        rows = "".join(f"<tr><th>{esc(x.label)}</th><td>{esc(x.text)}</td></tr>"
                       for x in kp.itertuples())
        links = " · ".join(f'<a href="{esc(href)}">{esc(label)}</a>'
                           for label, href in e.files.items())
        cards.append(
            f'<div class="card" id="{esc(e.slug)}"><h2>{title}</h2>'
            f"<p>{esc(e.scenario.description or '')}</p>"
            f"<table><thead><tr><th>Headline KPI</th><th>P50 (P10 – P90)</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            f'<p>{links}</p><p class="meta">Seed {seed} · {r.replications} replications · '
            f"{r.scenario.horizon_months} months · scenario hash <code>{esc(r.hash)}</code> · "
            f"file {esc(str(e.path))}</p></div>")
    if compare_entry.get("error"):
        comp = (f'<div class="card failed" id="comparison"><h2>Comparison</h2><p>'
                f'<span class="failed-label">FAILED</span>: '
                f'<code>{esc(compare_entry["error"])}</code></p></div>')
    elif compare_entry.get("files"):
        links = " · ".join(f'<a href="{esc(h)}">{esc(label)}</a>'
                           for label, h in compare_entry["files"].items())
        comp = (f'<div class="card" id="comparison"><h2>Comparison against '
                f'{esc(compare_entry["base"])}</h2><p>{links}</p></div>')
    else:
        comp = ""
    failed = sum(1 for e in entries if e.error) + bool(compare_entry.get("error"))
    status = (f'<p class="failed-label">{failed} part(s) failed; see below.</p>'
              if failed else "")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    horizon = f"{months} months (override)" if months else "each scenario's own horizon"
    pack_link = ' · <a href="board_pack.pdf">Board pack (PDF)</a>' if board_pack else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>revsim report</title>
<style>{_CSS}</style></head><body>
<h1>Revenue strategy report</h1>
<p class="meta">Generated {when} in {wall_seconds:.0f} s · seed {seed} ·
{replications} replications per scenario · {esc(horizon)} ·
<a href="{WORKBOOK}">Excel workbook for finance</a>{pack_link}</p>
{status}
{verdict_block}
{comp}
{''.join(cards)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


# ---------------------------------------------------------------- the whole build


def build_report(paths: Sequence[str | Path], replications: int = 20, seed: int = 0,
                 out_dir: str | Path = "reports", executor: str = "process",
                 months: int | None = None, scheduler: str | None = None) -> int:
    """Build the report folder for ``paths`` (first = base) and return an exit code:
    0 all good, 1 some scenario or notebook failed (marked in the index), 2 no scenario could
    be loaded (nothing written; an earlier report stays as it was)."""
    t0 = time.perf_counter()
    # a file named twice (e.g. `baseline.yaml scenarios/*.yaml`) is reported once, first place
    seen: set[Path] = set()
    paths = [p for p in map(Path, paths) if not (p.resolve() in seen or seen.add(p.resolve()))]
    if not paths:
        print("revsim report: no scenario files given", file=sys.stderr)
        return EXIT_INVALID
    entries = [_Entry(p, s) for p, s in zip(paths, _slugs(paths), strict=True)]
    try:
        dest = claim(out_dir)  # checked and locked before any work
    except OutputError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    with dest:
        return _build(entries, dest, out_dir, replications, seed, executor, months, scheduler,
                      t0)


def _build(entries: list[_Entry], dest: Claim, out_dir: str | Path, replications: int,
           seed: int, executor: str, months: int | None, scheduler: str | None,
           t0: float) -> int:
    _load(entries, months)
    if not any(e.ok for e in entries):
        for e in entries:
            print(terminal_text(e.error), file=sys.stderr)
        print(terminal_text(f"revsim report: no valid scenario; {out_dir} left unchanged"),
              file=sys.stderr)
        return EXIT_INVALID
    compare_entry: dict = {}
    try:
        with hermetic_jupyter(), dest.folder() as tmp:
            _simulate(entries, replications, seed, executor, scheduler)
            _step(f"simulated {sum(e.result is not None for e in entries)} scenario(s)", t0)
            for sub in ("data", "notebooks", "html"):
                (tmp / sub).mkdir()
            jobs = []
            for e in entries:
                if e.result is None:
                    continue
                nbh.save_result(e.result, tmp / "data" / e.slug)
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
            _run_notebooks(jobs, tmp, t0)
            for e in entries:
                if e.error:
                    print(terminal_text(e.error), file=sys.stderr)
            if compare_entry.get("error"):
                print(terminal_text(f"comparison: {compare_entry['error']}"), file=sys.stderr)
            decision = _decision(entries)
            write_workbook(tmp / WORKBOOK, entries, seed, replications, decision)
            _step(f"wrote {WORKBOOK}", t0)
            pack = _board_pack(decision, tmp)
            if pack:
                _step("wrote board_pack.pdf", t0)
            verdict_block = ""
            if decision is not None:
                from sim.board_pack import verdict_html

                verdict_block = verdict_html(decision)
            wall = time.perf_counter() - t0
            write_index(tmp / "index.html", entries, compare_entry, seed, replications, months,
                        wall, verdict_block, pack)
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
    print(terminal_text(f"report: {Path(out_dir) / 'index.html'} ({len(entries)} scenario(s), "
                        f"{failed} failed) in {wall:.0f} s"))
    return EXIT_SCENARIO_FAILED if failed else EXIT_OK


def _step(what: str, t0: float) -> None:
    """One plain line on stdout per finished step of the build (errors stay on stderr)."""
    if os.environ.get("REVSIM_PROGRESS", "auto") != "never":
        print(terminal_text(f"report: {what} ({time.perf_counter() - t0:.0f} s)"), flush=True)


def _decision(entries: Sequence[_Entry]):
    """The comparison behind the verdict: every scenario that ran, the base first; None when
    the base failed."""
    from sim.experiment import compare_of

    done = [e.result for e in entries if e.result is not None and e.ok]
    if not done or entries[0].result is None:
        return None
    return compare_of(done)


def _board_pack(decision, tmp: Path) -> bool:
    """board_pack.pdf from the same numbers; a missing or failing browser is one line on
    stderr and the rest of the report stands."""
    if decision is None:
        return False
    from sim.board_pack import write_board_pack

    try:
        write_board_pack(decision, tmp)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(terminal_text(f"revsim report: no board pack: {_one_line(str(exc))}"),
              file=sys.stderr)
        return False
    return True


def _run_notebooks(jobs: list[tuple], tmp: Path, t0: float | None = None) -> None:
    """Execute and export the notebooks, two at a time (each runs in its own kernel)."""

    def run(job):
        name, slug, params, target, title = job
        out_nb = tmp / "notebooks" / f"{slug}.ipynb"
        out_html = tmp / "html" / f"{slug}.html"
        files = target.files if isinstance(target, _Entry) else target.setdefault("files", {})
        try:
            execute_notebook(name, out_nb, params, cwd=tmp / "notebooks")
            _step(f"ran notebook {slug}", t_start)
        except Exception as exc:
            msg = notebook_error(out_nb, exc)
            if isinstance(target, _Entry):
                target.error = msg
            else:
                target["error"] = msg
            if out_nb.exists():
                files["Executed notebook (failed)"] = f"notebooks/{slug}.ipynb"
            return
        export_html(out_nb, out_html, title)
        files["Report (HTML)"] = f"html/{slug}.html"
        files["Executed notebook"] = f"notebooks/{slug}.ipynb"

    t_start = time.perf_counter() if t0 is None else t0
    workers = max(1, min(2, os.cpu_count() or 1, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(run, j) for j in jobs]:
            fut.result()
