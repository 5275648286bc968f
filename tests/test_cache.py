"""The result cache (sim/experiments/cache.py): a hit gives the same bytes as a run, any change
to what decides a replication is a miss, a damaged or foreign entry is ignored and rewritten,
two processes may write at once, and the size stays bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.experiments import cache, runner
from sim.experiments.results import run_experiment
from sim.experiments.settings import RunSettings
from sim.scenario.io import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
OUTPUTS = ("summary.json", "kpis.csv", "monthly.parquet", "by_segment.parquet",
           "by_channel.parquet", "by_team.parquet")


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """The cache on, in a folder of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.DIR_ENV, str(folder))
    monkeypatch.delenv(cache.OFF_ENV, raising=False)
    monkeypatch.delenv(cache.SIZE_ENV, raising=False)
    return folder


@pytest.fixture(scope="module")
def small():
    return load_scenario(BASELINE, {"horizon_months": 6})


def _run(sc, reps=3, seed=7, first=0):
    """Replications of ``sc`` in this process; parts by replication."""
    res, _ = runner.run_all([sc], RunSettings(reps, seed, "serial"), "test", first)
    return res[0]


def _cached(parts) -> list[bool]:
    return [bool(p.get("cached")) for p in parts]


def _outputs(sc, folder: Path, reps=3, seed=7) -> dict[str, bytes]:
    run_experiment(sc, settings=RunSettings(reps, seed, "serial")).write(folder)
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


def test_a_hit_writes_the_same_bytes_as_an_uncached_run(store, small, tmp_path, monkeypatch):
    first = _outputs(small, tmp_path / "first")
    assert any(store.iterdir())

    def no_simulation(*args):
        raise AssertionError("a cached replication was simulated again")

    with monkeypatch.context() as patch:
        patch.setattr(runner, "_replicate", no_simulation)
        second = _outputs(small, tmp_path / "second")
    monkeypatch.setenv(cache.OFF_ENV, "1")
    uncached = _outputs(small, tmp_path / "uncached")
    assert second == first == uncached


def test_more_replications_reuse_the_earlier_ones(store, small):
    assert _cached(_run(small, reps=2)) == [False, False]
    parts = _run(small, reps=4)
    assert _cached(parts) == [True, True, False, False]
    assert [p["replication"] for p in parts] == [0, 1, 2, 3]
    assert _cached(_run(small, reps=4)) == [True] * 4


@pytest.mark.parametrize("change", ["value", "seed", "months", "engine"])
def test_any_change_to_what_decides_a_replication_is_a_miss(store, small, monkeypatch, change):
    _run(small, reps=2)
    sc, seed, engine = small, 7, monkeypatch.context()
    if change == "value":  # one value deep in the scenario
        sc = with_overrides(small, ["finance.discount_rate_per_year_frac=0.111"])
    elif change == "seed":
        seed = 8
    elif change == "months":
        sc = with_overrides(small, ["horizon_months=7"])
    with engine as patch:
        if change == "engine":
            import sim.engine

            patch.setattr(sim.engine, "ENGINE_VERSION", sim.engine.ENGINE_VERSION + 1)
            cache.code_fingerprint.cache_clear()
        try:
            assert _cached(_run(sc, reps=2, seed=seed)) == [False, False]
        finally:
            cache.code_fingerprint.cache_clear()
    assert _cached(_run(small, reps=2)) == [True, True]  # the original is still there


def test_the_code_fingerprint_covers_the_replication_layers():
    root = ROOT / "sim"
    names = {f.relative_to(root).parts[0] for f in root.rglob("*.py")}
    assert set(cache.LAYERS) <= names
    # a module of a layer above experiments could not change a replication (tests/test_layers.py)
    assert not {"report", "cli", "calibrate", "track"} & set(cache.LAYERS)


def _entry_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.val")]


def test_a_damaged_entry_is_ignored_and_rewritten(store, small):
    clean = _run(small, reps=2)
    import diskcache

    with diskcache.Cache(str(store)) as raw:
        keys = cache.keys(small, 7, [0, 1])
        blob = raw.get(keys[0])
        raw.set(keys[0], blob[:-100] + b"\0" * 100)  # same length, wrong bytes
        raw.set(keys[1], b"not an entry")
    parts = _run(small, reps=2)
    assert _cached(parts) == [False, False]
    for a, b in zip(clean, parts, strict=True):
        assert a["kpis"] == b["kpis"] or str(a["kpis"]) == str(b["kpis"])
    assert _cached(_run(small, reps=2)) == [True, True]  # rewritten


def test_an_entry_file_cut_short_is_a_miss(store, small):
    _run(small, reps=1)
    files = _entry_files(store)
    assert files, "entries this size are kept as files"
    for f in files:
        f.write_bytes(f.read_bytes()[:1000])
    assert _cached(_run(small, reps=1)) == [False]
    assert _cached(_run(small, reps=1)) == [True]


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ[cache.DIR_ENV]) / "EXECUTED",))


def test_a_pickled_entry_is_refused_never_loaded(store, small):
    _run(small, reps=1)
    import diskcache

    with diskcache.Cache(str(store)) as raw:
        raw.set(cache.keys(small, 7, [0])[0], _Exploit())  # stored as a pickle
    assert _cached(_run(small, reps=1)) == [False]
    assert not (store / "EXECUTED").exists()
    assert _cached(_run(small, reps=1)) == [True]


def test_off_switches_write_nothing(store, small, monkeypatch, tmp_path):
    monkeypatch.setenv(cache.OFF_ENV, "1")
    _run(small, reps=1)
    assert not store.exists()
    monkeypatch.delenv(cache.OFF_ENV)
    env = {**os.environ, "REVSIM_PROGRESS": "never"}
    out = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(BASELINE), "--reps", "1",
                          "--months", "3", "--executor", "serial", "--no-cache"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert not store.exists()
    out = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(BASELINE), "--reps", "1",
                          "--months", "3", "--executor", "serial"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert _entry_files(store) or (store / "cache.db").stat().st_size > 0


def test_a_cache_that_cannot_be_opened_is_one_line_and_the_run_goes_on(store, small, capsys):
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("a file where the folder should be")
    parts = _run(small, reps=1)
    assert _cached(parts) == [False] and parts[0]["kpis"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "result cache" in err[0] and "running without it" in err[0]


def test_size_is_bounded_least_recently_used_first(store, small, monkeypatch):
    one = len(cache.encode(_run(small, reps=1)[0]))
    c = cache.ResultCache(store)
    room = c.store.volume() - one + 3.5 * one  # the database itself and three entries
    c.close()
    monkeypatch.setenv(cache.SIZE_ENV, str(room / 2**20))
    _run(small, reps=6)
    c = cache.ResultCache(store)
    try:
        assert c.store.volume() <= cache.size_limit() + one + 2**16
        kept = [k for k in cache.keys(small, 7, range(6)).values() if k in c.store]
        assert 0 < len(kept) < 6
    finally:
        c.close()


_WRITER = """
import sys
from sim.experiments import runner
from sim.experiments.settings import RunSettings
from sim.scenario.io import load_scenario
sc = load_scenario(sys.argv[1], {"horizon_months": 6})
res, _ = runner.run_all([sc], RunSettings(4, 7, "serial"), "w")
print(sum(bool(p.get("cached")) for p in res[0]), res[0][-1]["kpis"]["ending_arr"])
"""


def test_two_processes_writing_at_once_are_safe(store, small):
    env = {**os.environ, "REVSIM_PROGRESS": "never"}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(BASELINE)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "result cache" not in err
    assert len({out.split()[1] for out, _ in outs}) == 1  # the same numbers
    parts = _run(small, reps=4)
    assert _cached(parts) == [True] * 4
    assert str(parts[-1]["kpis"]["ending_arr"]) == outs[0][0].split()[1]


def test_pool_workers_store_what_they_run(store, small):
    """On the process pool each worker stores its replications (the parent only reads)."""
    res, used = runner.run_all([small], RunSettings(3, 7, "process", workers=2), "pool")
    assert used == "process" and _cached(res[0]) == [False] * 3
    again = _run(small, reps=3)
    assert _cached(again) == [True] * 3
    assert [p["kpis"] for p in again] == [p["kpis"] for p in res[0]] or \
        str([p["kpis"] for p in again]) == str([p["kpis"] for p in res[0]])
