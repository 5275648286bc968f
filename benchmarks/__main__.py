"""``python -m benchmarks`` (or ``make bench``): measure the engine against its targets.

Prints a table and writes ``benchmarks/results/latest.json``. Timings are medians of several
runs on this machine; the two references run in the same invocation so ratios are honest.
Flags: ``--quick`` (fewer runs, skips the report), ``--full`` (1,000 replications for the
memory target and 100 for the report, as in the targets).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sim
from benchmarks import write_results
from benchmarks.engine import TARGET_SPEEDUP
from benchmarks.naive import bare_simpy, run_naive

# timings of simulation, never of the result cache (sim/experiments/cache.py)
os.environ.setdefault("REVSIM_NO_CACHE", "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024


def _memory_run(reps: int) -> dict:
    """Peak memory of an experiment, measured in a fresh process."""
    code = (
        "import resource, sim, time\n"
        "s = sim.load_scenario('scenarios/baseline.yaml')\n"
        f"t = time.perf_counter(); r = sim.run_experiment(s, replications={reps}, seed=0)\n"
        "w = time.perf_counter() - t\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "kid = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(own, kid, w, len(r.monthly))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return {"replications": reps, "parent_peak_mib": float(out[0]),
            "largest_worker_peak_mib": float(out[1]), "wall_seconds": float(out[2])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="fewer runs, no report timing")
    ap.add_argument("--full", action="store_true", help="1,000-replication memory run and a "
                    "100-replication report, as in the targets")
    ap.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    args = ap.parse_args(argv)
    runs = 3 if args.quick else 5
    cores = os.cpu_count() or 1
    res: dict = {"machine": {"python": platform.python_version(), "cores": cores,
                             "platform": platform.platform()}, "scenarios": {}}

    def show(label, value, target="", ok=None):
        mark = "" if ok is None else ("  MET" if ok else "  NOT MET")
        print(f"{label:<58} {value:>16} {target:>14}{mark}")

    print(f"revsim benchmarks on {cores} cores (median of {runs} runs)\n")
    for name in ("small", "medium", "large"):
        sc = sim.load_scenario(HERE / "scenarios" / f"{name}.yaml")
        sim.simulate(sc, seed=0)  # warm imports and caches
        wall, r = _median_time(lambda sc=sc: sim.simulate(sc, seed=0), runs)
        ev = r.stats["simpy_events"]
        res["scenarios"][name] = {
            "wall_seconds": wall, "simpy_events": ev, "events_per_second": ev / wall,
            "leads": float(r.monthly["leads"].sum()),
            "opportunities": float(r.monthly["opportunities"].sum()),
            "months": sc.horizon_months,
        }
        show(f"{name}: wall per replication (s)", f"{wall:.3f}",
             "<= 1.5" if name == "large" else "", wall <= 1.5 if name == "large" else None)
        show(f"{name}: SimPy events / replication", f"{ev:,}")
        show(f"{name}: events per second", f"{ev / wall:,.0f}")
        show(f"{name}: leads / opportunities", f"{r.monthly['leads'].sum():,.0f} / "
             f"{r.monthly['opportunities'].sum():,.0f}")

    large = res["scenarios"]["large"]
    bare_wall, bare_ev = _median_time(lambda: bare_simpy(large["simpy_events"]), runs)
    bare_rate = bare_ev / bare_wall
    res["reference_bare_simpy"] = {"wall_seconds": bare_wall, "events": bare_ev,
                                   "events_per_second": bare_rate}
    ratio = large["events_per_second"] / bare_rate
    show("(a) bare SimPy loop: events per second", f"{bare_rate:,.0f}")
    show("model events/s as share of (a)", f"{ratio:.0%}", ">= 50%", ratio >= 0.5)

    lsc = sim.load_scenario(HERE / "scenarios" / "large.yaml")
    naive_wall, naive = _median_time(lambda: run_naive(lsc, seed=0), max(1, runs - 2))
    speedup = naive_wall / large["wall_seconds"]
    res["reference_naive"] = {"wall_seconds": naive_wall, **naive, "speedup": speedup}
    show("(b) naive process-per-lead model: wall (s)", f"{naive_wall:.2f}")
    show("(b) naive: leads / events", f"{naive['leads']:,} / {naive['simpy_events']:,}")
    show("large: speed-up over (b)", f"{speedup:.1f}x", f">= {TARGET_SPEEDUP:g}x",
         speedup >= TARGET_SPEEDUP)

    base = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    # the same work as a pool worker does per replication (simulate + metrics), serially
    k = 6
    t = time.perf_counter()
    sim.run_experiment(base, replications=k, seed=0, executor="serial")
    serial_wall = (time.perf_counter() - t) / k
    n = 40 if args.quick else 200
    t = time.perf_counter()
    sim.run_experiment(base, replications=n, seed=0, executor="process")
    par_wall = time.perf_counter() - t
    eff = serial_wall * n / (par_wall * cores)
    res["parallel"] = {"replications": n, "wall_seconds": par_wall, "reps_per_second": n / par_wall,
                       "serial_seconds_per_rep": serial_wall, "efficiency": eff}
    show(f"baseline: {n} replications on {cores} cores (s)", f"{par_wall:.1f}",
         "<= 45" if n == 200 else "", par_wall <= 45 if n == 200 else None)
    show("replications per second", f"{n / par_wall:.2f}")
    show("parallel efficiency", f"{eff:.0%}", ">= 85%", eff >= 0.85)

    # issue 27's offsite target: a lever change re-runs the plan at 36 months x 20
    # replications against the cached base on the warm pool (sim.experiments.warm) and
    # redraws (tables and the fans' chart spec, as the app sends them).
    from sim.experiments.warm import WarmPool
    from sim.report.offsite import OffsiteView, fan_frame, fans_chart, plan_scenario, side_of

    with WarmPool(cores, warm=base) as pool:
        base_side = side_of(pool.run([base], 20, 0)[0], "Base")
        times = []
        for price in (620, 640, 660):
            t = time.perf_counter()
            plan = plan_scenario(base, {"list_price": {"smb": price}})
            view = OffsiteView(base_side, side_of(pool.run([plan], 20, 0)[0], "Plan"))
            view.headline()
            fans_chart(fan_frame(view.base, view.plan)).to_dict()
            times.append(time.perf_counter() - t)
    off_wall = statistics.median(times)
    res["offsite_lever_change_seconds"] = off_wall
    show("offsite lever change, 36 mo x 20 reps, warm (s)",
         f"{off_wall:.2f}", "<= 2", off_wall <= 2)

    mem_reps = 1000 if args.full else 200
    mem = _memory_run(mem_reps)
    res["memory"] = mem
    show(f"peak memory, {mem_reps} replications: parent (MiB)",
         f"{mem['parent_peak_mib']:.0f}", "<= 1024", mem["parent_peak_mib"] <= 1024)
    show("  largest worker (MiB)", f"{mem['largest_worker_peak_mib']:.0f}")

    if not args.quick:
        reps = 100 if args.full else 20
        paths = [str(ROOT / "scenarios" / "baseline.yaml")] + sorted(
            str(p) for p in (ROOT / "scenarios").glob("*.yaml") if p.name != "baseline.yaml")
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "sim.cli", "report", *paths, "--reps",
                                   str(reps), "--out", str(Path(tmp) / "r")], cwd=ROOT,
                                  capture_output=True, text=True)
            rep_wall = time.perf_counter() - t
        res["report"] = {"replications": reps, "scenarios": len(paths), "wall_seconds": rep_wall,
                         "exit_code": proc.returncode}
        show(f"revsim report, {len(paths)} scenarios x {reps} reps (s)", f"{rep_wall:.0f}",
             "<= 180" if reps == 100 else "", rep_wall <= 180 if reps == 100 else None)

    res["peak_rss_mib_this_process"] = _peak_rss_mib()
    return write_results(args.out, res)


if __name__ == "__main__":
    raise SystemExit(main())
