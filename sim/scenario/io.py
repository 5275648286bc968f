"""Load scenario files: safe YAML, ``extends`` chains, dotted overrides, one-line errors.

Every problem becomes a ``ScenarioError`` whose lines read
``file: key.path: reason`` so the CLI can print them without a traceback.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError
from sim.outputs.escape import inline_text
from sim.scenario.model import Scenario


def display_path(path: Path | str) -> str:
    """The path as the user gave it (relative stays relative, absolute stays absolute), for
    one line of a message: a newline or a control character in the name is shown escaped, so
    it can neither split an error in two nor fake an "ok" line."""
    return inline_text(os.path.normpath(str(path)))


# ---------------------------------------------------------------- YAML

MAX_FILE_BYTES = 1_000_000
"""Largest scenario file read (bytes); the bundled baseline is about 10 KB."""
MAX_NESTING_DEPTH = 32
"""Deepest nesting of mappings and lists in one file, aliases expanded (a scenario needs 6)."""
MAX_ALIASES = 500
"""Most ``*alias`` references in one YAML document."""
MAX_EXPANDED_NODES = 200_000
"""Most values in one YAML document once every alias is expanded (the baseline has under 1,000).
Counted on the composed node graph without building the expanded tree, so an alias bomb
("billion laughs") is refused in milliseconds."""
MAX_EXTENDS_DEPTH = 16
"""Longest ``extends`` chain (files), the starting file included."""


class _YamlLimit(Exception):
    """A YAML size limit was exceeded; ``mark`` is where, when known."""

    def __init__(self, message: str, mark=None):
        super().__init__(message)
        self.message = message
        self.mark = mark


def _check_graph(root: yaml.Node) -> None:
    """Expanded size and depth of a composed node graph, memoised per node (aliases share
    nodes, so this is linear in the file, not in its expansion); refuses cycles."""
    sizes: dict[int, tuple[int, int]] = {}
    active: set[int] = set()

    def visit(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _YamlLimit("an alias refers to itself (recursive structure)", node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return 1, 0
        active.add(key)
        children = (node.value if isinstance(node, yaml.SequenceNode)
                    else [n for pair in node.value for n in pair])
        size, depth = 1, 0
        for child in children:
            s, d = visit(child)
            size, depth = size + s, max(depth, d)
            if size > MAX_EXPANDED_NODES:
                raise _YamlLimit(f"more than {MAX_EXPANDED_NODES:,} values once aliases are "
                                 "expanded (limit MAX_EXPANDED_NODES)", child.start_mark)
        depth += 1
        if depth > MAX_NESTING_DEPTH:
            raise _YamlLimit(f"nested deeper than {MAX_NESTING_DEPTH} levels once aliases are "
                             "expanded (limit MAX_NESTING_DEPTH)", node.start_mark)
        active.discard(key)
        sizes[key] = (size, depth)
        return size, depth

    visit(root)


class _StrictLoader(yaml.SafeLoader):
    """Safe loader that also rejects duplicate keys and enforces the size limits above while
    composing, before any value is constructed."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _YamlLimit(f"more than {MAX_ALIASES} aliases (limit MAX_ALIASES)",
                                 self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING_DEPTH:
                raise _YamlLimit(f"nested deeper than {MAX_NESTING_DEPTH} levels "
                                 "(limit MAX_NESTING_DEPTH)", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _check_graph(node)
        return node

    def construct_object(self, node, deep=False):
        # PyYAML's standard-tag constructors raise plain Python errors on bad values
        # (``!!int abc``, ``!!timestamp x``, ``!!map [1]``); give them a position instead.
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(
                None, None, f"{tag} value cannot be read", node.start_mark
            ) from None


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", mark
            )
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"


def _read_yaml(path: Path, shown: str) -> dict:
    data = read_yaml_bounded(path, shown)
    if data is None:
        raise ScenarioError([f"{shown}: (file): file is empty; expected a mapping of scenario keys"])
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"{shown}: (file): expected a mapping of scenario keys (got {type(data).__name__})"]
        )
    return data


def read_yaml_bounded(path: Path, shown: str) -> Any:
    """One YAML document within the limits above (size, nesting, aliases, expanded values),
    duplicate keys and unknown tags refused; ``ScenarioError`` with one line otherwise. The
    loader of scenario files, shared by every YAML revsim reads (``sim.calibrate.readers.load_yaml``)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ScenarioError([f"{shown}: (file): larger than {MAX_FILE_BYTES:,} bytes "
                                 "(limit MAX_FILE_BYTES)"])
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{shown}: (file): file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{shown}: (file): cannot read ({exc.__class__.__name__})"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except _YamlLimit as exc:
        raise ScenarioError([f"{shown}: {_where(exc.mark)}: {exc.message}"]) from None
    except RecursionError:  # a safety net; the depth limit stops far earlier
        raise ScenarioError([f"{shown}: (yaml): nested too deeply (limit MAX_NESTING_DEPTH)"]
                            ) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = exc.problem or "cannot construct value"
        if "could not determine a constructor" in problem:
            tag = re.search(r"tag '([^']*)'", problem)
            shown_tag = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else ""
            problem = f"unsafe or unknown YAML tag {shown_tag} rejected (tags are never executed)"
        raise ScenarioError([f"{shown}: {where}: {problem}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = exc.problem or exc.context or "malformed YAML"
        raise ScenarioError([f"{shown}: {where}: malformed YAML: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{shown}: (yaml): malformed YAML: {exc}"]) from None
    return data


# ---------------------------------------------------------------- merge and origins


def deep_merge(base: Mapping, over: Mapping) -> dict:
    """Mappings merge recursively; any other value (lists included) replaces the base.

    Two mappings replace rather than merge: a distribution of another kind (a new ``dist``),
    and a ``teams`` mapping that names a team the base does not have (so a pooled sales team
    is one line in a child of a scenario with segment teams; naming only existing teams
    changes just those)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        old = out.get(key)
        new_kind = isinstance(value, Mapping) and "dist" in value and isinstance(old, Mapping) \
            and value["dist"] != old.get("dist")
        new_teams = key == "teams" and isinstance(value, Mapping) and isinstance(old, Mapping) \
            and not set(value) <= set(old)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and not (new_kind or new_teams):
            out[key] = deep_merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _paths(data: Mapping, prefix: tuple = ()) -> Iterable[tuple]:
    for key, value in data.items():
        path = (*prefix, str(key))
        yield path
        if isinstance(value, Mapping):
            yield from _paths(value, path)


def _resolve(path: Path, chain: list[Path],
             shown_chain: list[str] | None = None) -> tuple[dict, dict[tuple, str]]:
    shown = display_path(path)
    shown_chain = [*(shown_chain or []), shown]
    resolved = path.resolve()
    if resolved in chain:
        raise ScenarioError([f"{shown_chain[0]}: extends: cycle {' -> '.join(shown_chain)}"])
    if len(shown_chain) > MAX_EXTENDS_DEPTH:
        raise ScenarioError([f"{shown_chain[0]}: extends: chain longer than {MAX_EXTENDS_DEPTH} "
                             "files (limit MAX_EXTENDS_DEPTH)"])
    raw = _read_yaml(path, shown)
    parent = raw.pop("extends", None)
    origins: dict[tuple, str] = {}
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise ScenarioError([f"{shown}: extends: expected a file name (got {parent!r})"])
        parent_path = path.parent / parent
        if not parent_path.is_file():
            raise ScenarioError([f"{shown}: extends: file not found: {parent!r}"])
        base, origins = _resolve(parent_path, [*chain, resolved], shown_chain)
        merged = deep_merge(base, raw)
    else:
        merged = raw
    for p in _paths(raw):
        origins[p] = shown
    return merged, origins


# ---------------------------------------------------------------- overrides


def parse_overrides(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """``["a.b=1", ...]`` or ``{"a.b": 1}`` → ``{"a.b": value}``; values parse as YAML scalars."""
    if not items:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError([f"--set {item}: (override): expected key.path=value"])
        key, _, text = item.partition("=")
        key = key.strip()
        try:
            value = yaml.load(text, Loader=_StrictLoader) if text.strip() else ""  # noqa: S506
        except (yaml.YAMLError, _YamlLimit):
            raise ScenarioError([f"--set {key}: (override): value {text!r} is not valid"]) from None
        out[key] = value
    return out


def apply_overrides(
    data: dict, overrides: Mapping[str, Any], origins: dict[tuple, str], source: str = "--set",
    flag: str = "--set",
) -> dict:
    """Set dotted keys in a copy of ``data``; creates missing mappings, refuses to walk
    through a non-mapping. Errors name them as ``source (flag)``."""
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = [p for p in dotted.split(".") if p]
        if not parts or any(not re.fullmatch(r"[A-Za-z0-9_]+", p) for p in parts):
            raise ScenarioError([f"{flag} {dotted}: (override): not a valid key path"])
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                where = ".".join(parts[: i + 1])
                raise ScenarioError(
                    [f"{flag} {dotted}: {where}: is a {type(nxt).__name__}, not a mapping"]
                )
            node = nxt
        node[parts[-1]] = value
        for n in range(1, len(parts) + 1):
            if n == len(parts) or tuple(parts[:n]) not in origins:
                origins[tuple(parts[:n])] = f"{source} ({flag})"
    return out


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


# ---------------------------------------------------------------- public API


def load_scenario(
    path: str | Path,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    flag: str = "--set",
) -> Scenario:
    """Read, resolve ``extends``, apply dotted overrides and validate a scenario file.
    ``flag`` names where the overrides came from in error messages (``--set``, ``--grid``)."""
    path = Path(path)
    shown = display_path(path)
    data, origins = _resolve(path, [])
    data = apply_overrides(data, parse_overrides(overrides), origins, shown, flag)
    for key, default in (("name", path.stem), ("description", "")):
        if origins.get((key,)) not in (shown, f"{shown} ({flag})"):  # never inherit them
            data[key] = default
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, origins, shown)) from None


def scenario_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Scenario:
    """Validate an in-memory mapping with the same error messages as a file."""
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, {}, source)) from None


def with_overrides(scenario: Scenario, overrides: Iterable[str] | Mapping[str, Any],
                   name: str | None = None) -> Scenario:
    """A copy of ``scenario`` with dotted overrides applied and validated again. The copy keeps
    the scenario's name unless ``name`` is given (or the overrides set ``name``): give a
    variant its own name before comparing it, or tables and the verdict label it as the base."""
    origins: dict[tuple, str] = {}
    data = apply_overrides(
        scenario_to_dict(scenario), parse_overrides(overrides), origins, scenario.name
    )
    if name is not None:
        data["name"] = name
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, origins, scenario.name)) from None


def scenario_to_dict(scenario: Scenario) -> dict:
    """Plain JSON-compatible dict of the resolved scenario. An unset calendar (and an unset
    ``segments.*.installed_arr_usd``) is left out, so scenarios without one keep the hash they
    had before it existed."""
    out = scenario.model_dump(mode="json", by_alias=True,
                              exclude={"calendar"} if scenario.calendar is None else None)
    for seg in out.get("segments", {}).values():
        if seg.get("installed_arr_usd", 0) is None:
            del seg["installed_arr_usd"]
    return out


def scenario_hash(scenario: Scenario) -> str:
    """Stable content hash (sha256 of canonical JSON, first 12 hex digits)."""
    canonical = json.dumps(scenario_to_dict(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def scenario_to_yaml(scenario: Scenario, seed: int | None = None) -> str:
    """The resolved scenario as YAML, headed by its hash (and the seed when given)."""
    head = f"# scenario hash: {scenario_hash(scenario)}\n"
    if seed is not None:
        head += f"# seed: {seed}\n"
    return head + yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False, allow_unicode=True)


def json_schema() -> dict:
    """JSON Schema of scenario files (``extends`` included) for editor autocompletion."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "Parent scenario file, relative to this file; mappings deep-merge.",
    }
    schema["required"] = [r for r in schema.get("required", []) if r != "name"]
    schema["title"] = "revsim scenario"
    return schema
