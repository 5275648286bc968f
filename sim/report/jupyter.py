"""Notebooks in a hermetic Jupyter: a private kernelspec and runtime folder per build,
Papermill execution with the kernel started in a given folder, and offline HTML export (no
network scripts; SVG charts inline only once checked safe)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sim.bundled import NOTEBOOKS
from sim.outputs.escape import svg_html

# nbconvert's lab template loads require.js, MathJax and Mermaid from CDNs; the report must
# open offline, so those blocks are emptied. Charts are written as inline <svg> elements (the
# stock template wraps them in <img> data URIs or escapes them), but only after
# sim.outputs.escape.svg_html has checked that the SVG cannot run code (vl-convert escapes every text
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
body .jp-RenderedHTMLCommon th.row_heading, body .jp-RenderedHTMLCommon td { white-space: nowrap; }
.jp-RenderedHTMLCommon .revsim-note { max-width: 60em; color: #555; margin-top: 0.3em; }
</style>
{%- endblock extra_css -%}
"""


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
    """Execute ``notebooks/<name>.ipynb`` with Papermill into ``output``, the kernel started in
    ``cwd``. (Papermill's own ``cwd=`` changes this process's folder while the notebook runs;
    two notebooks run at once, so their changes interleave and could leave the kernel, or
    this process, in the other's folder. nbclient's ``resources`` path sets only the kernel's.)
    A failure is the exception (the caller words it in one line), so Papermill's own log of
    it (e.g. "Kernel died while waiting for execute reply.") is silenced."""
    import logging

    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.CRITICAL)

    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters,
                        resources={"metadata": {"path": str(cwd)}},
                        kernel_name="python3", progress_bar=False,
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
    return f"{notebook.name}: {one_line(text)}"


def one_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (lines[0] if lines else "error")[:400]
