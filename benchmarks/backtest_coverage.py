"""``python -m benchmarks.backtest_coverage``: is the backtest's band honest on average?

One company's 12 held-out months are one path: its months are correlated, so its P10–P90
coverage swings widely around 80% even when the model is right. This benchmark exports
several companies from the example company's scenario (seeds 1..K; the shipped example is
seed 7), runs the README's backtest on each (calibrate on the first year, forecast the
second) and reports per company and on average: coverage, P50 bias and the mean percentile
rank of the actuals (0.5 when the forecast is centred). A calibrated method averages about
80% coverage and a rank near 0.5 across companies. Takes about a minute per company.
Writes ``benchmarks/results/backtest_coverage.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import sim
from sim.calibrate.backtest import backtest
from sim.calibrate.export import export_history, write_history

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "examples" / "example_company.yaml"
KINDS = ("subscriptions", "opportunities", "leads", "invoices")


def one_company(seed: int, reps: int, fixed: bool, work: Path) -> dict:
    folder = work / f"company-{seed}"
    folder.mkdir()
    write_history(export_history(sim.load_scenario(BASE), seed=seed), folder)
    res = backtest(BASE, {k: folder / f"{k}.csv" for k in KINDS}, folder / "actuals.csv",
                   "2024-01-01", 12, work / f"out-{seed}", reps=reps, seed=0,
                   history_start="2023-01-01", plan_start="2023-01",
                   parameter_uncertainty=not fixed)
    s = res.summary
    return {"seed": seed, "overall": s["overall_coverage_p10_p90"],
            "metrics": {m: {"coverage": v["coverage_p10_p90"], "p50_bias": v["p50_bias"],
                            "mean_rank": v["mean_percentile_rank"]}
                        for m, v in s["metrics"].items()}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--companies", type=int, default=8)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--fixed-parameters", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="revsim-bench-") as tmp:
        for seed in range(1, args.companies + 1):
            rows.append(one_company(seed, args.reps, args.fixed_parameters, Path(tmp)))
            r = rows[-1]
            print(f"company seed {seed}: overall {r['overall']:.1%}  " + "  ".join(
                f"{m} {v['coverage']:.0%}" for m, v in r["metrics"].items()), flush=True)
    metrics = list(rows[0]["metrics"])
    summary = {m: {k: statistics.mean(r["metrics"][m][k] for r in rows)
                   for k in ("coverage", "p50_bias", "mean_rank")} for m in metrics}
    overall = statistics.mean(r["overall"] for r in rows)
    print(f"\n{'metric':<12} {'coverage':>9} {'P50 bias':>9} {'mean rank':>10}   "
          f"(mean of {len(rows)} companies, {args.reps} replications each)")
    for m, v in summary.items():
        print(f"{m:<12} {v['coverage']:>9.1%} {v['p50_bias']:>+9.1%} {v['mean_rank']:>10.2f}")
    print(f"{'overall':<12} {overall:>9.1%}   (nominal 80%; companies "
          f"{min(r['overall'] for r in rows):.0%} to {max(r['overall'] for r in rows):.0%})")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "backtest_coverage.json").write_text(json.dumps(
        {"companies": rows, "mean": summary, "overall": overall, "reps": args.reps,
         "parameter_uncertainty": not args.fixed_parameters}, indent=1) + "\n",
        encoding="utf-8")


if __name__ == "__main__":
    main()
