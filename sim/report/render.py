"""Charts drawn offline: vl-convert turns a chart into inline SVG (no CDN, works with no
internet and in Papermill), and :func:`renderer_problem` says up front when it cannot start
here (vl-convert cannot start under a virtual-memory limit below about 64 GiB)."""

from __future__ import annotations

import functools
import subprocess
import sys

import altair as alt

from sim.outputs.escape import svg_html


def enable_offline_rendering() -> None:
    """Draw charts as inline SVG through vl-convert (no CDN, works offline and in Papermill)."""
    alt.renderers.enable("svg")


RENDER_PROBE = (
    "import mmap, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"  # a crash leaves no core file
    "try:\n"  # the address space the command will hold when it draws (never touched)
    "    held = mmap.mmap(-1, int(sys.argv[1]), flags=mmap.MAP_PRIVATE,\n"
    "                     prot=getattr(mmap, 'PROT_NONE', 0))\n"
    "except OSError:\n"
    "    sys.exit(3)\n"
    "import vl_convert\n"
    "vl_convert.vegalite_to_svg({'mark': 'point', 'data': {'values': [{'a': 1}]},\n"
    "                            'encoding': {'x': {'field': 'a', 'type': 'quantitative'}}})\n"
)
"""A tiny render in a child process that inherits the memory limit, after reserving (never
using) as much address space as the command will hold when it draws; exit 3: not even that."""
PROBE_HEADROOM = 4 << 30
"""Address space the command may add before it draws (its replications' tables, worker
pools, a notebook kernel), beyond what it holds when it probes: the process of
``revsim track`` holds about 0.6 GB when it probes and 1.8 GB when it draws."""
PROBE_TIMEOUT_S = 120
"""A probe that has not finished by then does not stop the command (it did not crash)."""
NO_ROOM = 3


def renderer_problem() -> str | None:
    """``None`` when charts can be drawn here, else the one-line environment error.

    vl-convert embeds V8, whose garbage-collected C++ heap (Oilpan) reserves a fixed cage of
    address space when it starts (it needs about 64 GiB free); under a lower ``ulimit -v``
    (RLIMIT_AS) the reservation fails and V8 ends the process with SIGTRAP and a C stack
    trace, whatever the chart. No option or environment variable of vl-convert shrinks that
    reservation, and a child process inherits the limit, so with a finite limit a tiny
    render is tried once in a child process that first reserves what this process holds plus
    ``PROBE_HEADROOM``: if it dies by a signal (or cannot reserve that much), commands that
    draw charts refuse before any work. Without a limit nothing is tried."""
    try:
        import resource
    except ImportError:  # no RLIMIT_AS here (Windows)
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    return _probe(soft, _address_space() + PROBE_HEADROOM)


def _address_space() -> int:
    """Bytes of address space this process holds (Linux; 0 where it cannot be read)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@functools.cache
def _probe(limit: int, hold: int) -> str | None:
    try:
        proc = subprocess.run([sys.executable, "-c", RENDER_PROBE, str(hold)],
                              capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):  # the command will meet the real problem
        return None
    if proc.returncode >= 0 and proc.returncode != NO_ROOM:
        return None  # drew, or failed in a way the command reports itself
    return ("environment: the chart renderer needs more virtual memory than the limit allows "
            f"(ulimit -v {limit // 1024}); raise it or unset it")


def svg(chart: alt.TopLevelMixin) -> str:
    """``chart`` as inline SVG for an HTML page (checked by ``svg_html``)."""
    import vl_convert as vlc

    return svg_html(vlc.vegalite_to_svg(chart.to_dict()))
