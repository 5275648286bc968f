"""``python -m benchmarks.report_bench`` (``make bench-report``): the report targets of
issue 27, each printed MET / NOT MET, with a reference checkout's times side by side.

Cases: ``revsim report`` of the baseline and one what-if at 20 replications, and (``--bundled``)
of every bundled scenario at the default (adaptive) precision, as ``make report`` runs it with
REPS unset; each cold (an empty result cache, a new report folder) and then warm (the same
command again: nothing changed). ``--reference DIR`` times the same commands with that
checkout's ``.venv/bin/revsim`` (e.g. ``/work/main``; without a result cache, its warm run
builds again). Targets: 2 scenarios cold <= 30 s; bundled cold <= 3 min; nothing changed
<= 10 s. Wall times on a busy machine are longer: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = {"cold_two": 30.0, "cold_bundled": 180.0, "warm": 10.0}


def _scenarios(bundled: bool) -> list[str]:
    base = ROOT / "scenarios" / "baseline.yaml"
    if not bundled:
        return [str(base), str(ROOT / "scenarios" / "price_increase.yaml")]
    return [str(base)] + sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml")
                                if p.name != "baseline.yaml")


def _time_report(revsim: Path, args: list[str], out: Path, env: dict) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run([str(revsim), "report", *args, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **env})
    return time.perf_counter() - t, proc.returncode


def _cold_and_warm(revsim: Path, args: list[str], tmp: Path) -> dict:
    """A cold build (empty cache, new folder), then the same command again."""
    env = {"REVSIM_CACHE_DIR": str(tmp / "cache"), "REVSIM_PROGRESS": "never",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop("REVSIM_NO_CACHE", None)
    cold, code_cold = _time_report(revsim, args, tmp / "report", env)
    warm, code_warm = _time_report(revsim, args, tmp / "report", env)
    return {"cold_seconds": cold, "warm_seconds": warm, "exit_codes": [code_cold, code_warm],
            "load_average": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.report_bench")
    ap.add_argument("--bundled", action="store_true",
                    help="also every bundled scenario at the default precision (slow)")
    ap.add_argument("--reference", type=Path, default=None,
                    help="a checkout to time side by side (its .venv/bin/revsim)")
    ap.add_argument("--out", default=str(HERE / "results" / "report.json"))
    args = ap.parse_args(argv)
    os.environ.pop("REVSIM_NO_CACHE", None)
    runners = {"this": ROOT / ".venv" / "bin" / "revsim"}
    if args.reference is not None:
        runners["reference"] = args.reference.resolve() / ".venv" / "bin" / "revsim"
    cases = [("two", _scenarios(False) + ["--reps", "20"])]
    if args.bundled:
        cases.append(("bundled", _scenarios(True)))
    res: dict = {"cores": os.cpu_count(), "cases": {}}
    print(f"revsim report benchmarks on {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f})\n")
    print(f"{'case':<44} {'this':>9} {'reference':>10} {'target':>8}")
    for name, report_args in cases:
        res["cases"][name] = {}
        for who, revsim in runners.items():
            with tempfile.TemporaryDirectory() as tmp:
                res["cases"][name][who] = _cold_and_warm(revsim, report_args, Path(tmp))
        label = ("2 scenarios x 20 replications" if name == "two"
                 else f"bundled ({len(report_args)} scenarios, adaptive)")
        for phase, target in (("cold", TARGETS[f"cold_{name}"]), ("warm", TARGETS["warm"])):
            this = res["cases"][name]["this"][f"{phase}_seconds"]
            ref = res["cases"][name].get("reference", {}).get(f"{phase}_seconds")
            ok = this <= target and res["cases"][name]["this"]["exit_codes"] == [0, 0]
            shown = f"{ref:>9.1f}s" if ref is not None else f"{'-':>10}"
            print(f"{label + ', ' + ('cold' if phase == 'cold' else 'nothing changed'):<44} "
                  f"{this:>8.1f}s {shown} {'<= ' + f'{target:.0f}':>6} s  "
                  f"{'MET' if ok else 'NOT MET'}")
    return write_results(args.out, res)


if __name__ == "__main__":
    raise SystemExit(main())
