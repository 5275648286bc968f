"""The scenario's assumptions as tables: flattened key/value rows, the levers a CRO/CFO
moves most, and the readable rows (section, label, unit, value, source note, key) of one or
several scenarios side by side."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel

from sim.kpis import fmt_lever, fmt_usd
from sim.scenario import describe
from sim.scenario.io import scenario_to_dict
from sim.scenario.levers import LEVERS, Lever, read
from sim.scenario.model import Scenario


def assumptions_table(scenario: Scenario) -> pd.DataFrame:
    """The resolved scenario flattened to key/value rows (lists indexed: a.b.0.c)."""
    rows = list(_flatten(scenario_to_dict(scenario)))
    return pd.DataFrame(rows, columns=["key", "value"])


def _flatten(data: Any, prefix: str = ""):
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        if not data:
            yield prefix, ""
        for i, v in enumerate(data):
            yield from _flatten(v, f"{prefix}.{i}")
    else:
        yield prefix, data


_LEVER_FORMAT = {"usd_per_seat_year": "${:,.0f} per seat-year", "usd_per_month": "${:,.0f} per "
                 "month", "frac": "{:.0%}", "count": "{}", "annual_uplift": "{:.1%}",
                 "partner_commission": "{:.0%} of revenue"}
"""How the levers table shows a lever's value: by lever name, else by unit."""


def _lever_value(data: Mapping, lv: Lever, key: str) -> str:
    text = _LEVER_FORMAT.get(lv.name, _LEVER_FORMAT[lv.unit]).format(read(data, key))
    owner = read(data, key.rsplit(".", 1)[0])  # the role or team the count belongs to
    hires = sum(h["add"] for h in owner.get("hiring_plan") or []) if lv.unit == "count" else 0
    text += f" ({hires:+d} planned)" if hires else ""
    deals = owner.get("concurrent_deals_per_ae") if lv.applies_to == "team" else None
    return text + (f", {deals} deals each" if deals else "")


def levers_table(scenario: Scenario) -> pd.DataFrame:
    """The catalogue's table levers (``sim.scenario.levers.LEVERS``, ``in_table``) with their
    catalogue labels and values in this scenario, segment levers segment by segment; the
    horizon first and the starting cash last."""
    data = scenario_to_dict(scenario)
    shown = [lv for lv in LEVERS if lv.in_table]
    rows = [("Horizon", f"{scenario.horizon_months} months")]
    rows += [(lv.label_for(seg), _lever_value(data, lv, lv.key_for(seg)))
             for seg in scenario.segments for lv in shown if lv.applies_to == "segment"]
    for lv in (lv for lv in shown if lv.applies_to != "segment"):
        for key in lv.keys(data):
            who = key.split(".")[-2] if "*" in lv.key else None
            rows.append((lv.label_for(who), _lever_value(data, lv, key)))
    rows.append(("Starting cash", fmt_usd(scenario.finance.starting_cash_usd)))
    return pd.DataFrame(rows, columns=["Lever", "Value"])


def assumptions_by_scenario(scenarios: Sequence[Scenario], names: Sequence[str]) -> pd.DataFrame:
    """The resolved assumptions as key rows, one value column per scenario (outer join)."""
    table = None
    for sc, name in zip(scenarios, names, strict=True):
        col = assumptions_table(sc).set_index("key")["value"].rename(name)
        table = col.to_frame() if table is None else table.join(col, how="outer", sort=False)
    table.index.name = "key"
    return table


ASSUMPTION_SECTIONS = {
    "name": "General", "description": "General", "horizon_months": "General",
    "calendar": "General", "segments": "Segments", "pricing": "Pricing",
    "channels": "Channels", "sales": "Sales", "headcount": "Headcount",
    "onboarding": "Onboarding", "customer_success": "Customer success", "costs": "Costs",
    "finance": "Finance", "opening": "Opening", "targets": "Targets",
    "account_plan": "Account plan",
}
"""Section of each top-level scenario key, in the order the assumptions sheet shows them."""
_SECTION_ORDER = list(dict.fromkeys(ASSUMPTION_SECTIONS.values()))
_SUFFIXES = ("_usd", "_frac", "_days")


def assumption_unit(field: str, value: Any) -> str:
    """The unit of a scenario field from its name (``_usd``, ``_frac``, ``_days``, months,
    rates per year or month) or its value (whole numbers are counts, text is text)."""
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, str):
        return "text"
    if field.endswith("_usd") or "_usd_" in field:
        per = " per month" if "per_month" in field else " per year" if "per_year" in field \
            else ""
        return "USD" + per
    if "_frac" in field:
        return "%"
    if field.endswith("_days"):
        return "days"
    if field == "month":
        return "plan month"
    if "months" in field:
        return "months"
    if field.endswith("per_year"):
        return "per year"
    if "per_month" in field:
        return "per month"
    if isinstance(value, int):
        return "count"
    return "number"


def _human(field: str) -> str:
    for suffix in _SUFFIXES:
        if field.endswith(suffix):
            field = field[: -len(suffix)]
    text = field.replace("_frac_of_", "_share_of_").replace("_", " ").strip()
    for short, up in (("sdr", "SDR"), ("csm", "CSM"), ("arr", "ARR"), ("wtp", "WTP"),
                      ("ae", "AE"), ("b", "b (response exponent)")):
        text = " ".join(up if w == short else w for w in text.split(" "))
    return text[:1].upper() + text[1:]


def _search(annotation: Any, pick) -> Any:
    """Depth first through an annotation and its arguments (Optional, Annotated): the value
    of the first ``pick`` that decides (``(value,)``; ``None``: look inside)."""
    decided = pick(annotation)
    if decided is not None:
        return decided[0]
    for arg in typing.get_args(annotation):
        found = _search(arg, pick)
        if found is not None:
            return found
    return None


def _model_of(annotation: Any):
    """The pydantic model class inside an annotation (Optional, Annotated), if any."""
    def pick(a):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return (a,)
        return (None,) if typing.get_origin(a) in (dict, list) else None

    return _search(annotation, pick)


def _item_type(annotation: Any) -> Any:
    """The value type of a ``dict[str, X]`` or ``list[X]`` annotation (through Optional)."""
    return _search(annotation, lambda a: (typing.get_args(a)[-1],)
                   if typing.get_origin(a) in (dict, list) else None)


def _dist_text(value: Mapping) -> str:
    params = ", ".join(f"{k} {fmt_lever(v)}" for k, v in value.items() if k != "dist")
    return f"{value['dist']}({params})"


def _described(value: Any, annotation: Any, field: str, doc: str, keys: list[str],
               labels: list[str]):
    """(dotted key, label, unit, value, note) rows of one scenario value."""
    if isinstance(value, Mapping) and "dist" in value:
        yield ".".join(keys), " › ".join(labels), assumption_unit(field, 0.0), \
            _dist_text(value), doc
        return
    if isinstance(value, Mapping):
        model = _model_of(annotation)
        if model is not None:
            for name, v in value.items():
                info = model.model_fields.get(name)
                yield from _described(v, info.annotation if info else None, name,
                                      " ".join((info.description or "").split()) if info else "",
                                      [*keys, name], [*labels, _human(name)])
            return
        item = _item_type(annotation)
        head = labels[:-1] if field == "segments" else labels  # "smb › List price"
        for k, v in value.items():
            yield from _described(v, item, field, doc, [*keys, str(k)], [*head, str(k)])
        return
    if isinstance(value, list):
        if not value or not all(isinstance(v, Mapping) for v in value):
            text = ", ".join(map(str, value)) if value else "none"
            yield ".".join(keys), " › ".join(labels), "text", text, doc
            return
        item = _item_type(annotation)
        head = labels[-1] if labels else _human(field)
        for i, v in enumerate(value):
            yield from _described(v, item, field, doc, [*keys, str(i)],
                                  [*labels[:-1], f"{head} {i + 1}"])
        return
    yield ".".join(keys), " › ".join(labels), assumption_unit(field, value), value, doc


def assumption_rows(scenario: Scenario) -> pd.DataFrame:
    """The resolved scenario as one row per setting, grouped by section (segments, pricing,
    channels, sales, headcount, onboarding, customer success, costs, finance, opening,
    targets, account plan) in the scenario's own order: section, a readable label
    (``smb › List price``), unit, value (a distribution as ``lognormal(median 60, …)``), the
    field's source or assumption note (its docstring in ``sim.scenario.model``) and the dotted key
    ``--set`` takes."""
    rows = []
    data = scenario_to_dict(scenario)
    for name, value in data.items():
        info = Scenario.model_fields.get(name)
        section = ASSUMPTION_SECTIONS.get(name, "Other")
        doc = " ".join((info.description or "").split()) if info else ""
        labels = [] if section != "General" else [_human(name)]
        for key, label, unit, v, note in _described(value, info.annotation if info else None,
                                                     name, doc, [name], labels):
            rows.append({"section": section, "label": label or _human(name), "unit": unit,
                         "value": v, "note": note, "key": key})
    frame = pd.DataFrame(rows, columns=["section", "label", "unit", "value", "note", "key"])
    order = {s: i for i, s in enumerate([*_SECTION_ORDER, "Other"])}
    frame["_o"] = frame["section"].map(order)
    return frame.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def assumptions_grouped(scenarios: Sequence[Scenario], names: Sequence[str]) -> pd.DataFrame:
    """The assumptions of several scenarios side by side: section, label, unit, one value
    column per scenario (outer join on the key, the base's order first), whether any differs
    from the base, the note and the key."""
    frames = [assumption_rows(sc) for sc in scenarios]
    info: dict[str, dict] = {}
    for f in frames:
        for rec in f.to_dict("records"):
            info.setdefault(rec["key"], rec)
    table = pd.DataFrame(list(info.values()))[["section", "label", "unit", "key", "note"]]
    values = [f.set_index("key")["value"] for f in frames]
    for name, v in zip(names, values, strict=True):
        table[name] = table["key"].map(v.to_dict()).astype(object)
    cols = list(names)
    # what differs: the settings sim.scenario.describe finds (the verdict's and compare
    # page's source too); a row differs when its key lies in one of them
    changed = [k for sc in scenarios[1:] for k, _a, _b in describe.differing(scenarios[0], sc)]
    table["differs"] = ["yes" if any(describe.covers(k, key) for k in changed) else ""
                        for key in table["key"]]
    order = {s: i for i, s in enumerate([*_SECTION_ORDER, "Other"])}
    table["_o"] = table["section"].map(order)
    table = table.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    return table[["section", "label", "unit", *cols, "differs", "note", "key"]]

