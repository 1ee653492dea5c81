"""Reading the user's input files safely: the one YAML reader of workloads, catalogs, profiles and `--set` values.

Every input is checked at the boundary, so nothing absurd reaches the demand model or the solver: only regular
files of bounded size are read (a FIFO would block, /dev/zero would fill memory), duplicate mapping keys are an
error (YAML would silently keep the last one), nesting is bounded (deep nesting would exhaust the stack) and every
integer must fit the solver's floating-point arithmetic. The pydantic models of the inputs derive from
`InputModel`: strict types, no .inf / .nan, every number 0 or within MIN_FIGURE..MAX_FIGURE, so the message names
the field.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Strict, model_validator
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from planner.errors import PlannerError

MAX_INPUT_BYTES = 32 * 1024 * 1024  # the shipped catalogs together are < 1 MiB
MAX_YAML_DEPTH = 64  # the deepest input (a SaaS offer's steps) nests 5 levels
MAX_INTEGER = 2 ** 53  # beyond it a float (what the solver computes in) no longer holds every integer exactly
# Largest figure (a price, a capacity, a demand per second or per month) the planner accepts. The solver works in
# floating point and treats coefficients near 1e20 as infinite; catalogs write 1e12 for "no limit", and the default
# workload at users.mau's upper bound (10 billion) stays below 1e14.
MAX_FIGURE = 1e15
# Smallest non-zero figure: many figures divide (servers = stored TB / storage_tb, FTE = nodes / nodes_per_fte), and
# 5e-324 makes infinitely many; the smallest shipped price is 8e-6 USD per unit. Write 0 when none is meant.
MIN_FIGURE = 1e-7

# pydantic settings every input model shares: unknown keys are errors, .inf / .nan are not numbers, and strict types:
# YAML `true` is not a number and "3" is not an int (ints still fill float fields)
INPUT_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class InputModel(BaseModel):
    """Base of every model of an input file: INPUT_CONFIG, and every number zero or within MIN_FIGURE..MAX_FIGURE
    in magnitude (each field's own range comes on top)."""

    model_config = INPUT_CONFIG

    @model_validator(mode="after")
    def _figures_in_range(self):
        for name, value in self.__dict__.items():
            for number in value if isinstance(value, list) else (value,):
                if isinstance(number, bool) or not isinstance(number, int | float) or number == 0:
                    continue
                if abs(number) > MAX_FIGURE:
                    raise ValueError(f"{name}: {number:g} is beyond the {MAX_FIGURE:.0e} the planner handles")
                if abs(number) < MIN_FIGURE:
                    raise ValueError(f"{name}: {number:g} is below the smallest figure the planner handles "
                                     f"({MIN_FIGURE:g}); write 0 if none is meant")
        return self


# a date, written plain (2026-11-01, which YAML reads as a date) or quoted
Date = Annotated[dt.date, Strict(False)]

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster; same safe subset


class _CheckedLoader(_BASE_LOADER):
    """Safe YAML loader that refuses duplicate keys and integers the solver cannot represent."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *anchor` keys are overridden by design
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if duplicate:
                    raise ConstructorError("while constructing a mapping", node.start_mark,
                                           f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                                           key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_bounded_int(self, node):
        try:
            value = self.construct_yaml_int(node)
        except ValueError:  # Python refuses to convert integers of more than 4,300 digits
            value = None
        if value is None or abs(value) > MAX_INTEGER:
            raise ConstructorError(None, None, f"integer {_clip(node.value)} is out of range (at most "
                                   f"{MAX_INTEGER:,} in magnitude)", node.start_mark)
        return value


_CheckedLoader.add_constructor("tag:yaml.org,2002:int", _CheckedLoader.construct_bounded_int)


def _clip(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _depth(root: Node) -> int:
    """Nesting depth of a composed YAML node tree (iterative: the tree may be deeper than the stack)."""
    deepest, stack, seen = 0, [(root, 1)], set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:  # aliases share nodes; each is walked once
            continue
        seen.add(id(node))
        deepest = max(deepest, depth)
        if deepest > MAX_YAML_DEPTH:
            return deepest
        if isinstance(node, SequenceNode):
            stack += [(child, depth + 1) for child in node.value]
        elif isinstance(node, MappingNode):
            stack += [(part, depth + 1) for pair in node.value for part in pair]
    return deepest


def read_input(path: Path, what: str, error: type[PlannerError], limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of an input file; only regular files, at most `limit` bytes (`what` names it in errors)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a directory, expected a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file (a FIFO, socket or device), expected a {what}")
    if info.st_size > limit:
        raise error(f"{path}: {what} is {info.st_size:,} bytes, more than the {limit:,} accepted")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise error(f"{path}: {what} grew beyond {limit:,} bytes while being read")
    return raw


def parse_yaml(text: str, origin: str, error: type[PlannerError], text_if_not_yaml: bool = False) -> Any:
    """Parse one YAML document with the checks above; any problem is one `error` line naming `origin`.
    text_if_not_yaml: text that is not YAML syntax at all is returned as the string it is (a `--set` value)."""
    loader = _CheckedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _depth(node) > MAX_YAML_DEPTH:
            raise error(f"{origin}: invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        if text_if_not_yaml and isinstance(exc, yaml.scanner.ScannerError | yaml.parser.ParserError):
            return text
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise error(f"{origin}:{where} invalid YAML: {problem}") from None
    except RecursionError:  # the pure-Python composer, when libyaml is missing
        raise error(f"{origin}: invalid YAML: nested too deep") from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path, what: str, error: type[PlannerError]) -> tuple[Any, bytes]:
    """Read and parse an input YAML file: (data, the raw bytes, for a checksum)."""
    raw = read_input(path, what, error)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_yaml(text, str(path), error), raw
