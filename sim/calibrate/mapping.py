"""Vendor exports → the canonical format: a YAML mapping file per export.

A mapping names, per canonical kind, the vendor's columns (``columns: {canonical: vendor}``),
value maps (``values: {column: {vendor value: canonical value}}``), date formats
(``date_format: "%m/%d/%Y"``), constants (``constant: {column: value}``) and a segment rule
(``segment: {from: column, bands: [[upper bound, segment], ...]}`` or
``{from: column, values: {...}}``; ``from`` names a vendor column), products of columns
(``product: {arr_usd: [Amount, Quantity, per_year]}``, applied after ``values``, so a value
map can turn ``month`` into ``12``; a factor ``"1/Interval Count"`` divides) and cells to
empty (``blank_when: {closed_date: {outcome: open}}``: a CRM's expected close date of an
open deal is not a close). Real exports need more (issue 26):

- catch-alls in a value map: ``"*": inbound`` maps every value the map does not list, and
  ``"": inbound`` maps a blank cell (else blank stays blank, unlisted values pass through);
- ``drop: [{column: Status, in: [trialing, past_due], why: "not paying yet"}]`` drops the
  rows a rule matches (``in``, ``not_in`` or ``blank: true`` on a vendor column); each rule's
  count is reported with its ``why``;
- ``currency: {column: Currency, rates: {usd: 1, eur: 1.08}}``: every ``*_usd`` column in
  USD at the given rate of the row's currency; without ``rates`` a file of more than one
  currency is refused.

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
        "blank_when", "drop", "currency"}
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


class _Drop(_Strict):
    column: StrictStr
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    blank: bool | None = None
    why: StrictStr = ""

    @model_validator(mode="after")
    def _one_test(self):
        if sum(x is not None for x in (self.in_, self.not_in, self.blank)) != 1:
            raise ValueError("give exactly one of in, not_in and blank")
        return self


class _Currency(_Strict):
    column: StrictStr
    rates: dict[StrictStr, Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = None


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
    drop: list[_Drop] | None = None
    currency: _Currency | None = None

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


def _row(label) -> int:
    """The spreadsheet row of a frame's row label (the readers label a row by its row - 1)."""
    return int(label) + 1


def drop_rows(df: pd.DataFrame, rules: list | None, shown: str
              ) -> tuple[pd.DataFrame, list[str]]:
    """The rows no ``drop`` rule matches, and one line per rule that dropped rows."""
    notes = []
    for rule in rules or []:
        col = rule["column"]
        if col not in df.columns:
            raise InputError(f"{shown}: column {inline_text(col)}: missing column (drop rule)")
        cell = df[col].astype("string").str.strip()
        if rule.get("blank"):
            hit, test = cell.isna() | (cell == ""), "is blank"
        else:
            listed = [str(v) for v in rule.get("in", rule.get("not_in")) or []]
            inside = cell.isin(listed).fillna(False)
            hit = inside if "in" in rule else ~inside
            test = (f"is {'' if 'in' in rule else 'not '}one of "
                    f"{', '.join(inline_text(v) for v in listed)}")
        n = int(hit.sum())
        if n:
            why = f" ({inline_text(rule['why'])})" if rule.get("why") else ""
            notes.append(f"{shown}: dropped {n} row(s) where {inline_text(col)} {test}{why}")
        df = df[~hit.to_numpy()]
    return df, notes


def _currency(df: pd.DataFrame, out: pd.DataFrame, rule: dict, shown: str) -> None:
    """Every ``*_usd`` column of ``out`` in USD: one currency per file, or the rates given."""
    col = rule["column"]
    if col not in df.columns:
        raise InputError(f"{shown}: column {inline_text(col)}: missing column (currency)")
    cur = df[col].astype("string").str.strip().str.lower()
    rates = {k.lower(): float(v) for k, v in (rule.get("rates") or {}).items()}
    seen = list(dict.fromkeys(cur.dropna()))
    if not rates:
        if len(seen) > 1:
            first = cur.dropna().index[0]
            other = cur[cur.notna() & (cur != seen[0])].index[0]
            raise InputError(f"{shown}: row {_row(other)}, column {inline_text(col)}: currency "
                             f"{inline_text(cur[other])} differs from {inline_text(seen[0])} "
                             f"on row {_row(first)} (mixed currencies: give currency.rates "
                             "to convert, or export one currency)")
        if seen and seen[0] != "usd":
            raise InputError(f"{shown}: column {inline_text(col)}: amounts are in "
                             f"{inline_text(seen[0])}, not usd (give currency.rates: "
                             f"{{{inline_text(seen[0])}: <USD per unit>}})")
        return
    unknown = cur.notna() & ~cur.isin(list(rates))
    if unknown.any():
        i = unknown[unknown].index[0]
        raise InputError(f"{shown}: row {_row(i)}, column {inline_text(col)}: currency "
                         f"{inline_text(cur[i])} has no rate in currency.rates (rates for "
                         f"{', '.join(rates)})")
    factor = cur.map(rates).astype(float)
    for c in out.columns:
        if c.endswith("_usd"):
            num = pd.to_numeric(out[c], errors="coerce")
            conv = (num * factor).round(6)
            out[c] = conv.astype("str").where(num.notna(), out[c]).where(out[c].notna())


def apply_mapping(df: pd.DataFrame, spec: dict | None, shown: str,
                  notes: list[str] | None = None) -> pd.DataFrame:
    """Rename and convert a vendor frame to canonical columns (text cells kept as text;
    dates written ISO so that validation reads them). Rows dropped by the mapping's rules
    are counted in ``notes``."""
    if not spec:
        return df
    df, dropped = drop_rows(df, spec.get("drop"), shown)
    if notes is not None:
        notes += dropped
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
            table = {("" if k is None else str(k)): ("" if v is None else str(v))
                     for k, v in table.items()}
            other, blank = table.pop("*", None), table.pop("", None)

            def one(x, t=table, other=other, blank=blank):
                if pd.isna(x) or not str(x).strip():
                    return blank if blank is not None else x
                return t.get(str(x).strip(), x if other is None else other)
            out[col] = out[col].map(one).replace("", np.nan)
    for col, factor in (spec.get("multiply") or {}).items():
        if col in out.columns:
            num = pd.to_numeric(out[col], errors="coerce")
            out[col] = (num * float(factor)).where(num.notna(), out[col]).astype("str").where(
                out[col].notna())
    for col, factors in (spec.get("product") or {}).items():
        total = pd.Series(1.0, index=out.index)
        for f in factors:
            inverse = f.startswith("1/")
            f = f.removeprefix("1/")
            src = out[f] if f in out.columns else df[f] if f in df.columns else None
            if src is None:
                raise InputError(f"{shown}: column {f}: missing column (product for {col})")
            num = pd.to_numeric(src, errors="coerce")
            total = total / num.where(num != 0) if inverse else total * num
        out[col] = total.round(6).astype("str").where(total.notna())
    if spec.get("currency"):
        _currency(df, out, spec["currency"], shown)
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
