"""What differs between two scenarios, in words a person reads: the one source of "what this
plan changes" for the verdict, ``revsim compare``, the compare page, the board pack and the
Excel assumptions sheet.

A *setting* is a value of the resolved scenario (``scenario_to_dict``) at a dotted key; a
distribution (``{dist: lognormal, ...}``) and a list (a hiring plan, a partner plan, targets)
are one setting each, so a plan that adds a hire reads as one changed hiring plan. Every
setting that differs is listed: nothing is summarised away. Labels and units come from the
lever catalogue (:mod:`sim.scenario.levers`) where a lever covers the key, else from the
field's name (``_usd``, ``_frac``, ``_days``, ``per_month``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.scenario.io import scenario_to_dict
from sim.scenario.levers import LEVERS, Lever
from sim.scenario.model import Scenario

SKIPPED = ("name", "description", "uncertainty")  # ranges are not levers
"""Keys that name a scenario rather than change it."""
_CONTAINERS = {("pricing", "segments"), ("sales", "teams")}
"""Dict levels whose keys are segment or team names (``who``)."""
_WORDS = {"sdr": "SDR", "csm": "CSM", "arr": "ARR", "wtp": "WTP", "ae": "AE", "n": "N",
          "b": "b", "cs": "CS", "nrr": "NRR", "grr": "GRR"}
_SUFFIXES = ("_usd", "_frac", "_days")
_LEVELS = ("median", "mean", "value", "low", "high", "mode")
"""Distribution parameters in the setting's own unit (a shape such as sigma is a number)."""


def settings(scenario: Scenario | Mapping) -> dict[str, Any]:
    """Every setting of a scenario by dotted key (a distribution or a list is one value)."""
    data = scenario if isinstance(scenario, Mapping) else scenario_to_dict(scenario)
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping) and "dist" not in node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            out[prefix] = node

    walk(data, "")
    return out


def _same(a: Any, b: Any) -> bool:
    missing = [x is None or (isinstance(x, float) and math.isnan(x)) for x in (a, b)]
    return all(missing) or (not any(missing) and a == b)


def differing(base: Scenario | Mapping, plan: Scenario | Mapping) -> list[tuple[str, Any, Any]]:
    """(dotted key, base value, plan value) of every setting that differs, in the base's
    order (settings only the plan has last); name and description aside."""
    a, b = settings(base), settings(plan)
    keys = list(dict.fromkeys([*a, *b]))
    return [(k, a.get(k), b.get(k)) for k in keys
            if k.split(".")[0] not in SKIPPED and not _same(a.get(k), b.get(k))]


def covers(setting: str, key: str) -> bool:
    """Whether an assumption row's ``key`` (lists indexed: ``a.b.0.c``) lies in ``setting``."""
    return key == setting or key.startswith(setting + ".")


# ---------------------------------------------------------------- labels and values


def _lever_of(key: str) -> tuple[Lever, str | None] | None:
    """The catalogue lever whose key is ``key`` and the segment or team it is for."""
    for lv in LEVERS:
        if "*" not in lv.key:
            if lv.key == key:
                return lv, None
            continue
        head, _, tail = lv.key.partition(".*.")
        if key.startswith(head + ".") and key.endswith("." + tail):
            who = key[len(head) + 1: -len(tail) - 1]
            if who and "." not in who:
                return lv, who
    return None


def _human(field: str) -> str:
    for suffix in _SUFFIXES:
        if field.endswith(suffix):
            field = field[: -len(suffix)]
    field = field.replace("_frac_of_", "_share_of_")
    return " ".join(_WORDS.get(w, w) for w in field.split("_") if w)


LABELS = {"account_plan.programme_top_n": "Account plan: top accounts in the programme",
          "channels.partner.partner_plan": "Partner plan (active partners)",
          "channels.inbound.budget_plan": "Inbound budget plan (a month)"}
"""Labels the field's name does not say well enough."""
_PER_SEGMENT_MAPS = {"segment_mix": "frac", "cost_per_lead_usd": "usd",
                     "reference_spend_per_month_usd": "usd", "response_exponent_b": "number",
                     "qualify_prob_frac": "frac", "fresh_leads_per_sdr_per_month": "number",
                     "accounts_contacted_per_sdr_per_month": "number"}
"""Channel settings that are a map segment → value, with the kind of their values."""
_SECTIONS = ("channels", "headcount", "costs", "finance", "opening", "sales", "pricing")
"""Top-level sections whose name a label leaves out (``channels.inbound.x`` → ``Inbound x``)."""


def label(key: str) -> str:
    """A setting's label: the lever catalogue's (``List price, smb``), else its path in words
    (``Inbound segment mix, enterprise``; ``Hiring plan, enterprise team``)."""
    found = _lever_of(key)
    if found is not None:
        lv, who = found
        return lv.label_for(None if who == "*" else who)
    if key in LABELS:
        return LABELS[key]
    parts = key.split(".")
    who = None
    if len(parts) >= 3 and parts[-2] in _PER_SEGMENT_MAPS:
        who, parts = parts[-1], parts[:-1]
    for i in range(len(parts) - 2):
        if tuple(parts[i:i + 2]) in _CONTAINERS:
            who = parts[i + 2] + (" team" if parts[i + 1] == "teams" else "")
            parts = parts[:i] + parts[i + 3:]
            break
    else:
        if parts[0] == "segments" and len(parts) > 2:
            who, parts = parts[1], parts[2:]
    if len(parts) > 1 and parts[0] in _SECTIONS:
        parts = parts[1:]
    words: list[str] = []
    for w in " ".join(_human(p) for p in parts).split(" "):  # "partner partner plan"
        if not words or words[-1].lower() != w.lower():
            words.append(w)
    text = " ".join(words).replace("installed price", "installed-base price")
    after = _unit(key)[1]  # the unit said after the value: not in the label too
    for per, said in ((" per month", " a month"), (" per year", " a year")):
        if after == said and text.endswith(per):
            text = text[: -len(per)]
        elif after == said:
            text = text.replace(per, "")
    text = text[:1].upper() + text[1:]
    return f"{text}, {who}" if who else text


def _unit(key: str) -> tuple[str, str]:
    """(kind, suffix) of a setting: kind usd/frac/days/months/count/number/text; the suffix
    said once after a change (``a month``, ``a seat a year``)."""
    found = _lever_of(key)
    field = key.split(".")[-1]
    if found is not None:
        unit = found[0].unit
        if unit == "usd_per_seat_year":
            return "usd", " a seat a year"
        if unit == "usd_per_month":
            return "usd", " a month"
        return unit, ""
    parts = key.split(".")
    if len(parts) >= 3 and parts[-2] in _PER_SEGMENT_MAPS:
        field = parts[-2]
        if _PER_SEGMENT_MAPS[field] == "frac":
            return "frac", ""
    if "_usd" in field:
        return "usd", (" a month" if "per_month" in field else
                       " a year" if "per_year" in field else "")
    if "_frac" in field or field.endswith("_share"):
        return "frac", (" a year" if "per_year" in field else "")
    if field.endswith("_days"):
        return "days", " days"
    if "months" in field:
        return "months", " months"
    if "per_month" in field:
        return "number", " a month"
    if "per_year" in field:
        return "number", " a year"
    return "number", ""


def _number(kind: str, v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v.replace("_", " ")
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "—"
    if kind == "usd":
        a = abs(f)
        text = (f"${a / 1e6:,.2f}M" if a >= 1e6 else f"${a / 1e3:,.0f}K" if a >= 1e5
                else f"${a:,.0f}" if a >= 100 or a == int(a) else f"${a:,.2f}")
        return ("-" if f < 0 else "") + text
    if kind == "frac":
        pct = f * 100
        return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.1f}%"
    if f == int(f):
        return f"{int(f):,}"
    return f"{f:,.3g}" if abs(f) < 10 else f"{f:,.1f}"


def _steps(steps: list, kind: str) -> str:
    """A plan as words: ``+3 in month 2, +1 in month 13``; ``45 from month 4, 60 from month 10``."""
    if not steps:
        return "none"
    out = []
    for s in steps:
        if isinstance(s, Mapping) and set(s) == {"month", "add"}:  # a hiring step
            out.append(f"{int(s['add']):+d} in month {s['month']}")
        elif isinstance(s, Mapping) and set(s) == {"month", "value"}:  # a plan step
            out.append(f"{_number(kind, s['value'])} from month {s['month']}")
        elif isinstance(s, Mapping):
            out.append("(" + ", ".join(f"{_human(str(k))} {_number(_unit(str(k))[0], v)}"
                                       for k, v in s.items()) + ")")
        else:
            out.append(_number(kind, s))
    return ", ".join(out)


def value_text(key: str, value: Any, suffix: bool = True) -> str:
    """A setting's value in its unit: ``$150K a month``, ``15%``, ``+3 in month 2``."""
    kind, after = _unit(key)
    if value is None:
        return "none"
    if isinstance(value, list):
        plan_kind = "usd" if "budget" in key else "number"
        return _steps(value, plan_kind)
    if isinstance(value, Mapping):
        params = ", ".join(f"{k} {_number(kind if k in _LEVELS else 'number', v)}"
                           for k, v in value.items() if k != "dist")
        return f"{value.get('dist', '')}({params})"
    return _number(kind, value) + (after if suffix and not isinstance(value, str | bool) else "")


@dataclass(frozen=True)
class Change:
    """One setting that differs: its key, label and both values in words."""

    key: str
    label: str
    base: str
    plan: str

    def __str__(self) -> str:
        return f"{self.label} {self.base} → {self.plan}"


def changes(base: Scenario | Mapping, plan: Scenario | Mapping) -> list[Change]:
    """Every setting that differs, in words (the unit once, after the plan's value:
    ``Paid marketing budget $150K → $120K a month``)."""
    out = []
    for key, a, b in differing(base, plan):
        plain = not isinstance(a, list | Mapping) and not isinstance(b, list | Mapping)
        out.append(Change(key, label(key), value_text(key, a, suffix=not plain or a is None),
                          value_text(key, b)))
    return out


def changes_text(base: Scenario | Mapping, plan: Scenario | Mapping) -> str:
    """All the changes as one line, ``; `` between them (``no setting differs`` when none)."""
    found = changes(base, plan)
    return "; ".join(map(str, found)) if found else "no setting differs"
