"""One scenario of a report build and what became of it: read by the build, the index and the
workbook (apart from ``build`` so that neither imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.experiments.experiment import ExperimentResult
    from sim.scenario.model import Scenario


@dataclass
class Entry:
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
