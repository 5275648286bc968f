"""Pydantic validation errors of a scenario in one line each: ``file: key.path: reason``, the
file being the one of the ``extends`` chain (or ``--set``) that set the key."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.scenario.model import Scenario

# ---------------------------------------------------------------- validation errors


def _model_at(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class reached by following ``loc`` from ``model``."""
    import typing

    current: Any = model
    for part in loc:
        if current is None:
            return None
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin in (dict,) and len(args) == 2:
            current = args[1]
        elif origin in (list,) and args:
            current = args[0]
        else:
            return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


_TAGS = {"fixed", "exponential", "lognormal", "gamma", "triangular", "beta"}


def _clean_loc(loc: tuple) -> tuple:
    # Discriminated unions add the tag ("lognormal") and the BeforeValidator a function name.
    return tuple(p for p in loc if not (isinstance(p, str) and (p in _TAGS or "[" in p)))


def digits(value: int) -> int:
    """Decimal digits of an integer of any size (``str`` refuses more than 4,300)."""
    n = abs(value)
    d = math.floor(math.log10(n)) + 1 if n else 1
    return d - 1 if d > 1 and 10 ** (d - 1) > n else d + 1 if 10**d <= n else d


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"a number of {digits(value)} digits"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _reason(err: dict, loc: tuple) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    key = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        parent = _model_at(Scenario, loc[:-1])
        names = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if not close and names:
            hint = f" (valid keys: {', '.join(names)})"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key missing"
    if kind in ("less_than_equal", "less_than"):
        op = "<=" if kind == "less_than_equal" else "<"
        bound = ctx.get("le", ctx.get("lt"))
        return f"must be {op} {_fmt(bound)} (got {_fmt(got)})"
    if kind in ("greater_than_equal", "greater_than"):
        op = ">=" if kind == "greater_than_equal" else ">"
        bound = ctx.get("ge", ctx.get("gt"))
        if key.endswith("_usd") and bound == 0:
            return f"money must not be negative (got {_fmt(got)})"
        return f"must be {op} {_fmt(bound)} (got {_fmt(got)})"
    if kind == "float_type" and isinstance(got, int) and abs(got) >= 10**15:
        return f"number too large (got {_fmt(got)})"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "bool_parsing",
                "bool_type", "string_type"):
        want = {"float": "a number", "int": "a whole number", "bool": "true or false",
                "string": "text"}[kind.split("_")[0]]
        return f"expected {want} (got {_fmt(got)})"
    if kind == "finite_number":
        return f"must be a finite number (got {got!r})"
    if kind == "int_from_float":
        return f"expected a whole number (got {_fmt(got)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_fmt(got)})"
    if kind == "union_tag_invalid":
        return (f"unknown distribution {_fmt(ctx.get('tag'))} (expected one of "
                f"{', '.join(sorted(_TAGS))})")
    if kind == "union_tag_not_found":
        return f"a distribution needs a 'dist' key (one of {', '.join(sorted(_TAGS))}) or a number"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (got {_fmt(got)})"
    if kind == "list_type":
        return f"expected a list (got {_fmt(got)})"
    if kind in ("too_short",):
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _origin(loc: tuple, origins: dict[tuple, str], default: str) -> str:
    keys = tuple(str(p) for p in loc)
    for n in range(len(keys), 0, -1):
        if keys[:n] in origins:
            return origins[keys[:n]]
    return default


def _format_errors(exc: ValidationError, origins: dict[tuple, str], default: str) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = _clean_loc(tuple(err["loc"]))
        reason = _reason(err, loc)
        parts = reason.split("; ") if err["type"] == "value_error" else [reason]
        for part in parts:
            sub = loc
            m = re.match(r"^([A-Za-z_][\w.]*): (.*)$", part)
            if m and err["type"] == "value_error":
                sub = (*loc, *m.group(1).split("."))
                part = m.group(2)
            where = ".".join(str(p) for p in sub) or "(top level)"
            lines.append(f"{_origin(sub, origins, default)}: {where}: {part}")
    return list(dict.fromkeys(lines))
