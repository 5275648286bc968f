"""A non-editable install works without the checkout: the wheel ships the report notebooks and
the example scenarios, and ``revsim report`` runs from another folder.

The wheel is built offline (``--no-build-isolation``: the dev extra pins setuptools) from a
copy of the sources, installed with ``--no-deps`` into a fresh venv in ``tmp_path``; the
dependencies are borrowed from the running interpreter: its site-packages through a ``.pth``
line, which adds that folder to ``sys.path`` *after* the venv's own site-packages and does not
run its ``.pth`` files (so an editable install of ``sim`` there stays off), and its
``share/jupyter`` (nbconvert's templates) through a symlink. The test checks that ``sim``, the
notebooks and the scenarios are the venv's copies before running the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
# what the wheel is built from (pyproject.toml names these)
SOURCES = ("pyproject.toml", "README.md", "sim", "notebooks", "scenarios")
TIMEOUT = 600


# no PYTHONPATH: it would put a checkout (and its revsim.egg-info) in front of the venv
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _run(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", ".ipynb_checkpoints"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w",
          tmp / "dist", src], cwd=tmp)
    wheel, = (tmp / "dist").glob("revsim-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    python = venv / "bin" / "python"
    _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=tmp)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).stdout.strip())
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "zz_revsim_test_deps.pth").write_text("\n".join(deps) + "\n")
    # and the data files they install into the prefix (nbconvert's HTML templates)
    (venv / "share").mkdir()
    (venv / "share" / "jupyter").symlink_to(Path(sysconfig.get_paths()["data"]) / "share/jupyter")
    return {"tmp": tmp, "python": python, "bin": venv / "bin", "site": site}


def test_wheel_ships_notebooks_and_scenarios(venv):
    """``sim``, its notebooks and scenarios are the venv's copies, not the checkout's."""
    site = venv["site"]
    out = _run([venv["python"], "-c", "import sim, sim.bundled as b; "
                "print(sim.__file__); print(b.NOTEBOOKS); print(b.SCENARIOS)"],
               cwd=venv["tmp"]).stdout.split("\n")
    assert Path(out[0]) == site / "sim" / "__init__.py"
    assert Path(out[1]) == site / "sim" / "notebooks"
    assert Path(out[2]) == site / "sim" / "scenarios"
    shipped = {p.name for p in (site / "sim" / "notebooks").glob("*.ipynb")}
    assert shipped == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert "scenario_report.ipynb" in shipped and "compare_scenarios.ipynb" in shipped

    listed = _run([venv["python"], "-m", "sim.bundled"], cwd=venv["tmp"]).stdout.split()
    assert [Path(p).parent for p in listed] == [site / "sim" / "scenarios"] * len(listed)
    assert Path(listed[0]).name == "baseline.yaml"
    assert sorted(Path(p).name for p in listed) == \
        sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))


def test_report_from_another_folder(venv):
    """``revsim report`` on two bundled scenarios, run from a folder with no checkout."""
    scenarios = venv["site"] / "sim" / "scenarios"
    elsewhere = venv["tmp"] / "elsewhere"
    elsewhere.mkdir()
    proc = _run([venv["bin"] / "revsim", "report", scenarios / "baseline.yaml",
                 scenarios / "price_increase.yaml", "--reps", "2", "--months", "6",
                 "--executor", "serial", "--out", "out"], cwd=elsewhere)
    out = elsewhere / "out"
    assert "0 failed" in proc.stdout, proc.stdout + proc.stderr
    for page in ("index.html", "html/baseline.html", "html/price_increase.html",
                 "html/compare_scenarios.html", "revsim_report.xlsx"):
        assert (out / page).stat().st_size > 0, page
    index = (out / "index.html").read_text()
    assert "html/baseline.html" in index and "html/price_increase.html" in index


def test_lock_pins_every_dependency():
    """``constraints.txt`` pins each dependency pyproject.toml names (dev extra and build backend
    included) to one version its bound allows: a dependency added without ``make lock`` fails
    here instead of installing unpinned."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not name==version"
            pins[canonicalize_name(name)] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [*project["project"]["dependencies"],
              *project["project"]["optional-dependencies"]["dev"],
              *project["build-system"]["requires"], "pip"]
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {req.name}=={pins[name]}, pyproject.toml wants {text}"


def test_every_subpackage_is_in_the_wheel_list():
    """A package left out of pyproject's list imports from a checkout but not from a wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sim").rglob("__init__.py")}
    assert found <= listed, found - listed
