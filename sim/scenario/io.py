"""Load scenario files: safe YAML, ``extends`` chains, dotted overrides, one-line errors.

Every problem becomes a ``ScenarioError`` whose lines read
``file: key.path: reason`` so the CLI can print them without a traceback.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.outputs.escape import inline_text
from sim.scenario.messages import _format_errors, digits
from sim.scenario.model import Scenario
from sim.scenario.yaml_safe import (
    MAX_ALIASES,
    MAX_EXPANDED_NODES,
    MAX_EXTENDS_DEPTH,
    MAX_FILE_BYTES,
    MAX_NESTING_DEPTH,
    _read_yaml,
    _StrictLoader,
    _YamlLimit,
    read_yaml_bounded,
)

__all__ = ["MAX_ALIASES", "MAX_EXPANDED_NODES", "MAX_EXTENDS_DEPTH", "MAX_FILE_BYTES",
           "MAX_NESTING_DEPTH", "ScenarioError", "apply_overrides", "deep_merge", "digits",
           "display_path", "json_schema", "load_scenario", "load_scenarios", "parse_overrides",
           "read_yaml_bounded", "scenario_from_dict", "scenario_hash", "scenario_to_dict",
           "scenario_to_yaml", "with_overrides"]


def display_path(path: Path | str) -> str:
    """The path as the user gave it (relative stays relative, absolute stays absolute), for
    one line of a message: a newline or a control character in the name is shown escaped, so
    it can neither split an error in two nor fake an "ok" line."""
    return inline_text(os.path.normpath(str(path)))


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


def load_scenarios(paths: Iterable[str | Path], overrides: Mapping[str, Any] | None = None,
                   strict: bool = True, fixed: bool = False) -> list[Scenario]:
    """:func:`load_scenario` of every file: with ``strict`` the problems of all of them in one
    ``ScenarioError``, else only the files that load; ``fixed``: every uncertain value at its
    estimate (:func:`sim.scenario.uncertainty.fixed_parameters`)."""
    from sim.scenario.uncertainty import fixed_parameters

    scenarios, problems = [], []
    for path in paths:
        try:
            sc = load_scenario(path, overrides)
            scenarios.append(fixed_parameters(sc) if fixed else sc)
        except ScenarioError as exc:
            problems.extend(exc.lines)
    if problems and strict:
        raise ScenarioError(problems)
    return scenarios


def validation(paths: Iterable[str | Path], overrides: Mapping[str, Any] | None = None
               ) -> tuple[list[str], list[str]]:
    """``revsim validate``: an ``ok  FILE  (hash H)`` line per file that loads, and the
    problems of those that do not, one line each (``file: key.path: reason``)."""
    ok, problems = [], []
    for path in paths:
        try:
            ok.append(f"ok  {path}  (hash {scenario_hash(load_scenario(path, overrides))})")
        except ScenarioError as exc:
            problems.extend(exc.lines)
    return ok, problems


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
    overrides = parse_overrides(overrides)
    data = apply_overrides(scenario_to_dict(scenario), overrides, origins, scenario.name)
    if scenario.uncertainty is not None:  # a value set here is that value, not a draw
        left = scenario.uncertainty.without(set(overrides))
        data["uncertainty"] = None if left is None else left.model_dump(mode="json", by_alias=True)
    if name is not None:
        data["name"] = name
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, origins, scenario.name)) from None


def scenario_to_dict(scenario: Scenario) -> dict:
    """Plain JSON-compatible dict of the resolved scenario. An unset calendar or uncertainty
    (and an unset
    ``segments.*.installed_arr_usd``, a single target's ``all``) is left out, so scenarios
    without one keep the hash they had before it existed."""
    unset = {k for k in ("calendar", "uncertainty") if getattr(scenario, k) is None}
    out = scenario.model_dump(mode="json", by_alias=True, exclude=unset or None)
    for seg in out.get("segments", {}).values():
        if seg.get("installed_arr_usd", 0) is None:
            del seg["installed_arr_usd"]
    for target in out.get("targets", []):  # single targets keep the hash they had before all:
        if target.get("all", 0) is None:
            del target["all"]
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
