"""Distributions a workload may give instead of a number, and the seeded Latin hypercube that samples them.

A numeric workload field may be written as a mapping with a `dist` key (docs/uncertainty.md):

    {dist: triangular, low, mode, high}    point value: mode
    {dist: uniform, low, high}             point value: (low + high) / 2
    {dist: lognormal, median, sigma}       point value: median  (or mu, sigma with median = exp(mu))
    {dist: scenarios, values, weights}     point value: the weighted mean

`implan plan` / `compare` / `sweep` solve the point value; `implan uncertainty` samples. Every distribution maps a
probability u in (0, 1) to a value through its inverse CDF (`ppf`), so one Latin hypercube of uniform numbers
drives all of them and the tornado's low/high runs are simply ppf(0.1) and ppf(0.9). Pure Python (random.Random
and statistics.NormalDist): the same seed gives the same samples on every platform, with no numpy or scipy.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from planner.errors import WorkloadError

TORNADO_LOW_Q, TORNADO_HIGH_Q = 0.10, 0.90  # one-at-a-time runs at the P10 and P90 of each input
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Distribution:
    """One uncertain input: its kind, its parameters, and the point value the deterministic commands use."""

    kind: str
    params: dict[str, Any]

    def point(self) -> float:
        p = self.params
        if self.kind == "triangular":
            return p["mode"]
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        if self.kind == "lognormal":
            return p["median"]
        return sum(v * w for v, w in zip(p["values"], p["weights"]))

    def ppf(self, u: float) -> float:
        """The value with probability u of not being exceeded (inverse CDF), 0 < u < 1."""
        p = self.params
        if self.kind == "uniform":
            return p["low"] + u * (p["high"] - p["low"])
        if self.kind == "triangular":
            lo, mode, hi = p["low"], p["mode"], p["high"]
            if hi == lo:
                return lo
            cut = (mode - lo) / (hi - lo)
            if u < cut:
                return lo + math.sqrt(u * (hi - lo) * (mode - lo))
            return hi - math.sqrt((1 - u) * (hi - lo) * (hi - mode))
        if self.kind == "lognormal":
            return p["median"] * math.exp(p["sigma"] * NormalDist().inv_cdf(u))
        total = 0.0
        for value, weight in zip(p["values"], p["weights"]):
            total += weight
            if u < total:
                return value
        return p["values"][-1]

    def describe(self) -> str:
        return f"{self.kind}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float | int) else f"{k}={v}"
                                            for k, v in self.params.items()) + ")"

    def as_dict(self) -> dict:
        return {"dist": self.kind, **self.params, "point": self.point()}


def _number(raw: dict, key: str, where: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WorkloadError(f"{where}: {raw['dist']} needs a finite number {key}, got {value!r}")
    return float(value)


_KEYS = {"triangular": {"low", "mode", "high"}, "uniform": {"low", "high"}, "lognormal": {"median", "sigma"},
         "scenarios": {"values", "weights"}}


def parse_distribution(raw: dict, where: str) -> Distribution:
    """A validated Distribution from its YAML mapping; a WorkloadError naming the field otherwise."""
    kind = raw.get("dist")
    if kind not in _KEYS:
        raise WorkloadError(f"{where}: unknown dist {kind!r}, expected one of {', '.join(_KEYS)}")
    keys = set(raw) - {"dist"}
    expected = {"mu", "sigma"} if kind == "lognormal" and "mu" in keys else _KEYS[kind]
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        what = "; ".join(x for x in (missing and f"missing {', '.join(missing)}",
                                     extra and f"unknown {', '.join(extra)}") if x)
        raise WorkloadError(f"{where}: {kind} takes {', '.join(sorted(expected))} ({what})")
    if kind == "triangular":
        lo, mode, hi = (_number(raw, k, where) for k in ("low", "mode", "high"))
        if not lo <= mode <= hi:
            raise WorkloadError(f"{where}: triangular needs low <= mode <= high, got {lo:g}, {mode:g}, {hi:g}")
        return Distribution(kind, {"low": lo, "mode": mode, "high": hi})
    if kind == "uniform":
        lo, hi = _number(raw, "low", where), _number(raw, "high", where)
        if not lo <= hi:
            raise WorkloadError(f"{where}: uniform needs low <= high, got {lo:g}, {hi:g}")
        return Distribution(kind, {"low": lo, "high": hi})
    if kind == "lognormal":
        sigma = _number(raw, "sigma", where)
        median = math.exp(_number(raw, "mu", where)) if "mu" in raw else _number(raw, "median", where)
        if median <= 0 or sigma <= 0 or sigma > 5:
            raise WorkloadError(f"{where}: lognormal needs median > 0 (or any mu) and 0 < sigma <= 5, got "
                                f"median {median:g}, sigma {sigma:g}")
        return Distribution(kind, {"median": median, "sigma": sigma})
    values, weights = raw["values"], raw["weights"]
    if not isinstance(values, list) or not isinstance(weights, list) or not values or len(values) != len(weights):
        raise WorkloadError(f"{where}: scenarios needs two lists of the same non-zero length, values and weights")
    vals = [_number({"dist": kind, "value": v}, "value", where) for v in values]
    wts = [_number({"dist": kind, "weight": w}, "weight", where) for w in weights]
    if min(wts) < 0 or abs(sum(wts) - 1) > _WEIGHT_TOLERANCE:
        raise WorkloadError(f"{where}: scenarios weights must be >= 0 and sum to 1, got sum {sum(wts):g}")
    return Distribution(kind, {"values": vals, "weights": wts})


def extract_distributions(data: Any, prefix: str = "") -> tuple[Any, dict[str, Distribution]]:
    """(the data with every distribution replaced by its point value, {field path: Distribution}). Distributions
    are recognised in mappings at any depth (a mapping with a `dist` key), not inside lists."""
    if not isinstance(data, dict):
        return data, {}
    if "dist" in data:
        dist = parse_distribution(data, prefix or "(top level)")
        return dist.point(), {prefix: dist}
    out, found = {}, {}
    for key, value in data.items():
        out[key], inner = extract_distributions(value, f"{prefix}.{key}" if prefix else str(key))
        found.update(inner)
    return out, found


def latin_hypercube(dimensions: int, samples: int, seed: int) -> list[list[float]]:
    """`samples` points in (0, 1)^dimensions, one per stratum of width 1/samples in every dimension, stratum order
    shuffled per dimension (McKay et al. 1979). Seeded: the same (dimensions, samples, seed) gives the same points."""
    rng = random.Random(seed)
    columns = []
    for _ in range(dimensions):
        strata = list(range(samples))
        rng.shuffle(strata)
        columns.append([(s + rng.random()) / samples for s in strata])
    # rng.random() is in [0, 1): keep u strictly inside (0, 1) so the lognormal's inverse CDF stays finite
    return [[min(max(col[i], 1e-12), 1 - 1e-12) for col in columns] for i in range(samples)]
