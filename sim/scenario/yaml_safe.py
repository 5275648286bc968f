"""Scenario YAML read safely: a size limit, a strict loader (no tags that run code, no
duplicate keys) and limits on nesting, aliases and expanded size, each failing in one line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError

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
