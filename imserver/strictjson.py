"""Strict JSON for untrusted input (client frames, JWT parts).

RFC 8259 has no NaN or Infinity, and a number like 1e400 silently becomes inf in Python; both
are refused, so every number that gets through is finite.  Nesting is limited: imserver's
frames and tokens are flat objects, and deep nesting only costs CPU (or a RecursionError).
"""
from __future__ import annotations

import json
import math


class StrictJSONError(ValueError):
    """Not strict JSON: the message says why (syntax, non-finite number, nesting)."""


def _no_constant(name: str):
    raise StrictJSONError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"number {text[:20]} is out of range")
    return value


_decode = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float).decode


def _depth_ok(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return False
        children = v.values() if isinstance(v, dict) else v
        stack.extend((x, depth + 1) for x in children if isinstance(x, (dict, list)))
    return True


def loads(text: str, max_depth: int):
    """Parse ``text``; raise StrictJSONError for bad syntax, NaN/Infinity/overflow or depth > max_depth."""
    try:
        value = _decode(text)
    except RecursionError:
        raise StrictJSONError(f"nested deeper than {max_depth} levels") from None
    except StrictJSONError:
        raise
    except ValueError as exc:
        raise StrictJSONError(str(exc)[:80]) from None
    if isinstance(value, (dict, list)) and not _depth_ok(value, max_depth):
        raise StrictJSONError(f"nested deeper than {max_depth} levels")
    return value
