"""Which company a scenario file describes: calibrated files say so on their first line
(``# revsim calibrate as of DATE from: FILES``, ``sim.calibrate.write.HEADER``), and a file
that ``extends`` one describes that company too (a plan choice made on it). ``revsim compare``
and ``revsim report`` warn when their scenarios are not alternatives for one company: a
calibrated company against a template, or two calibrations (other data or another as-of)."""

from __future__ import annotations

from pathlib import Path

from sim.outputs.escape import inline_text

MAX_CHAIN = 32  # files followed along ``extends`` (the loader refuses longer chains)


def company_of(path: Path | str) -> str | None:
    """``as of DATE from: FILES`` of the nearest calibrated file on the ``extends`` chain,
    or None (a template: no calibration in the chain). Unreadable files count as templates;
    the loader reports them."""
    from sim.calibrate.write import HEADER
    from sim.errors import ScenarioError
    from sim.scenario.yaml_safe import read_yaml_bounded

    p = Path(path)
    for _ in range(MAX_CHAIN):
        try:
            with p.open("rb") as fh:
                first = fh.readline(4096).decode("utf-8", "replace").rstrip("\r\n")
            if first.startswith(HEADER + " as of "):
                return first.removeprefix(HEADER + " ").strip()
            data = read_yaml_bounded(p, inline_text(p))
        except (OSError, ScenarioError):  # the loader reports a bad file; here: no company
            return None
        parent = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(parent, str) or not parent:
            return None
        p = p.parent / parent
    return None


def company_warning(paths: list[Path | str]) -> str | None:
    """One line when the scenarios are not plan choices of one company, else None."""
    seen = [(inline_text(Path(p).name), company_of(p)) for p in paths]
    if len({c for _, c in seen}) <= 1:
        return None
    parts = [f"{name} is {'calibrated ' + c if c else 'a template (not calibrated)'}"
             for name, c in seen]
    return ("warning: these scenarios are not plan choices of one company (" + "; ".join(parts)
            + "): their differences are the data and the date, not a decision")
