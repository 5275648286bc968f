"""Vendor exports → the canonical format: a YAML mapping file per export.

A mapping names, per canonical kind, the vendor's columns (``columns: {canonical: vendor}``),
value maps (``values: {column: {vendor value: canonical value}}``), date formats
(``date_format: "%m/%d/%Y"``), constants (``constant: {column: value}``) and a segment rule
(``segment: {from: column, bands: [[upper bound, segment], ...]}`` or
``{from: column, values: {...}}``; ``from`` names a vendor column), products of columns
(``product: {arr_usd: [Amount, Quantity, per_year]}``, applied after ``values``, so a value
map can turn ``month`` into ``12``) and cells to empty (``blank_when: {closed_date:
{outcome: open}}``: a CRM's expected close date of an open deal is not a close).
Everything it does is data; nothing in it is executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.errors import InputError, one_line
from sim.outputs.escape import inline_text

KEYS = {"columns", "values", "date_format", "constant", "segment", "multiply", "product",
        "blank_when"}
KINDS = ("subscriptions", "opportunities", "leads", "invoices", "actuals", "finance")

Scalar = StrictStr | int | float | bool | None
Number = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Segment(_Strict):
    from_: StrictStr = Field(alias="from")
    bands: list[tuple[Number, StrictStr]] | None = None
    values: dict[Scalar, Scalar] | None = None

    @model_validator(mode="after")
    def _one_rule(self):
        if (self.bands is None) == (self.values is None):
            raise ValueError("give exactly one of bands and values")
        return self


class _Spec(_Strict):
    """One kind's mapping: its shape is checked here, so a malformed file is one line naming
    the key instead of an error deep in ``apply_mapping``."""

    columns: dict[StrictStr, StrictStr] | None = None
    values: dict[StrictStr, dict[Scalar, Scalar]] | None = None
    date_format: StrictStr | None = None
    constant: dict[StrictStr, Scalar] | None = None
    segment: _Segment | None = None
    multiply: dict[StrictStr, Number] | None = None
    product: dict[StrictStr, list[StrictStr]] | None = None
    blank_when: dict[StrictStr, dict[StrictStr, Scalar]] | None = None

    @field_validator("date_format")
    @classmethod
    def _format(cls, fmt: str | None) -> str | None:
        if fmt is None:
            return fmt
        if "%" not in fmt:
            raise ValueError("has no % directive (e.g. \"%m/%d/%Y\")")
        try:
            pd.to_datetime(pd.Series(["2024-01-31"]), format=fmt, errors="coerce")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a date format ({one_line(exc, 80)})") from None
        return fmt


def _problem(shown: str, kind: str, err: dict) -> str:
    loc = ".".join(str(p) for p in (kind, *err["loc"]) if p not in ("function-after",))
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    shown_got = "" if isinstance(got, dict) else f" (got {one_line(repr(got), 60)})"
    return f"{shown}: {inline_text(loc)}: {msg}{shown_got}"


def load_mapping(path: Path) -> dict:
    """A mapping file, read by the bounded YAML loader (``sim.calibrate.readers.load_yaml``, the limits
    of scenario files) and checked key by key; one line naming the file and key otherwise."""
    from sim.calibrate.readers import load_yaml

    path = Path(path)
    shown = inline_text(path)
    if not path.is_file():
        raise InputError(f"{shown}: file not found")
    data = load_yaml(path, shown)
    if not isinstance(data, dict):
        raise InputError(f"{shown}: expected a mapping of file kinds (subscriptions, ...)")
    for kind, spec in data.items():
        if kind not in KINDS:
            raise InputError(f"{shown}: {inline_text(kind)}: unknown kind (kinds are "
                             f"{', '.join(KINDS)})")
        if not isinstance(spec, dict) or set(spec) - KEYS:
            raise InputError(f"{shown}: {kind}: expected keys among {sorted(KEYS)}")
        try:
            _Spec.model_validate(spec)
        except ValidationError as exc:
            raise InputError(_problem(shown, kind, exc.errors()[0])) from None
    return data


def apply_mapping(df: pd.DataFrame, spec: dict | None, shown: str) -> pd.DataFrame:
    """Rename and convert a vendor frame to canonical columns (text cells kept as text;
    dates written ISO so that validation reads them)."""
    if not spec:
        return df
    out = pd.DataFrame(index=df.index)
    for canon, vendor in (spec.get("columns") or {}).items():
        if vendor not in df.columns:
            raise InputError(f"{shown}: column {vendor}: missing column (mapped to {canon})")
        out[canon] = df[vendor]
    for col in df.columns:  # unmapped columns pass through (canonical names, or ignored)
        if col not in out.columns and col not in (spec.get("columns") or {}).values():
            out[col] = df[col]
    for col, value in (spec.get("constant") or {}).items():
        out[col] = str(value)
    for col, table in (spec.get("values") or {}).items():
        if col not in out.columns and col in df.columns:
            out[col] = df[col]
        if col in out.columns:
            table = {str(k): ("" if v is None else str(v)) for k, v in table.items()}
            out[col] = out[col].map(lambda x, t=table: t.get(str(x).strip(), x)
                                    if pd.notna(x) else x)
            out[col] = out[col].replace("", np.nan)
    for col, factor in (spec.get("multiply") or {}).items():
        if col in out.columns:
            num = pd.to_numeric(out[col], errors="coerce")
            out[col] = (num * float(factor)).where(num.notna(), out[col]).astype("str").where(
                out[col].notna())
    for col, factors in (spec.get("product") or {}).items():
        total = pd.Series(1.0, index=out.index)
        for f in factors:
            if f not in out.columns:
                raise InputError(f"{shown}: column {f}: missing column (product for {col})")
            total = total * pd.to_numeric(out[f], errors="coerce")
        out[col] = total.round(6).astype("str").where(total.notna())
    for col, cond in (spec.get("blank_when") or {}).items():
        if col in out.columns:
            for other, value in cond.items():
                if other in out.columns:
                    out.loc[out[other] == str(value), col] = np.nan
    fmt = spec.get("date_format")
    if fmt:
        for col in out.columns:
            if col.endswith("_date") or col == "month":
                parsed = pd.to_datetime(out[col], format=fmt, errors="coerce")
                out[col] = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), out[col])
    rule = spec.get("segment")
    if rule:
        src = rule.get("from")
        if src not in df.columns:
            raise InputError(f"{shown}: column {src}: missing column (segment rule)")
        if "bands" in rule:
            num = pd.to_numeric(df[src], errors="coerce")
            seg = pd.Series(np.nan, index=df.index, dtype=object)
            for upper, name in reversed(rule["bands"]):
                seg[num <= float(upper)] = name
            out["segment"] = seg.where(num.notna(), df[src])
        else:
            out["segment"] = df[src].map(lambda x: rule["values"].get(str(x), x))
    return out
