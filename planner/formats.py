"""Every money and number format the text, markdown and HTML outputs use, in one place (issue 9, point 5).

Pure functions from a figure to a string; deterministic (no locale), None means "no value" where accepted.
"""

from __future__ import annotations

from typing import Any


# ---------- money ----------

def usd(x: float | None) -> str:
    """Money for people: whole dollars from $100 up, cents below; n/a for no value."""
    return "n/a" if x is None else f"${x:,.0f}" if abs(x) >= 100 else f"${x:,.2f}"


def usd_cents(x: float) -> str:
    """Always with cents: $1,234.56 (limits and break-even costs, where the cents matter)."""
    return f"${x:,.2f}"


def usd_whole(x: float) -> str:
    """Whole dollars: $1,235 (sweep tables)."""
    return f"${x:,.0f}"


def usd_fixed(x: float | None, digits: int) -> str:
    """A fixed number of decimals, for small per-user figures: $0.0042 per MAU."""
    return "n/a" if x is None else f"${x:.{digits}f}"


def usd_unit_price(price: float | None, graduated: bool = False) -> str:
    """A line's unit price; a graduated price is an average and says so."""
    if price is None:
        return "n/a"
    text = f"${price:,.2f}" if price >= 0.1 else f"${price:.4g}"
    return text + (" avg" if graduated else "")


def signed_usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    if round(x, 2) == 0:
        return "$0"
    return ("+" if x > 0 else "-") + usd(abs(x))


# ---------- changes and ratios ----------

def signed_pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    if x == 0:
        return "0.0%"
    if abs(x) < 0.05:  # a small change is still shown with its sign, never as 0.0%
        return f"{x:+.2f}%"
    return f"{x:+.1f}%"


def arrow(x: float | None) -> str:
    if x is None or round(x, 2) == 0:
        return "="
    return "▲" if x > 0 else "▼"


def delta_text(delta: float | None, pct: float | None) -> str:
    if delta is None:
        return "n/a"
    return f"{arrow(delta)} {signed_usd(delta)} ({signed_pct(pct)})" if pct is not None else \
        f"{arrow(delta)} {signed_usd(delta)}"


def ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.1f}x"


# ---------- plain figures ----------

def figure(x: Any) -> str:
    """A value in a diff table: 4 significant digits below 1,000, whole above; ints grouped; — for none."""
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    return str(x)


def quantity(x: float) -> str:
    """A line-item quantity: whole from 100 up, else at most 2 decimals without trailing zeros."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".") if x else "0"


def measure(x: Any) -> str:
    """A workload or demand figure in the HTML report: at most 3 decimals below 1,000, whole above."""
    if isinstance(x, float):
        return f"{x:,.3f}".rstrip("0").rstrip(".") if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def short_sha(x: str | None) -> str:
    return "none" if not x else x[:12]


# ---------- plan layout ----------

def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def topology_text(t: dict) -> str:
    """One stateful tier's layout in words (a plan JSON `topology` entry): what the bundle deploys."""
    where = f"on {_plural(t['nodes'], t['host_group'] + ' node')}"
    if t["mode"] == "sharded":
        shape = (f"{_plural(t['shards'], 'shard')} × (1 primary + {_plural(t['replicas_per_shard'], 'replica')})")
    elif t["mode"] == "distributed":
        shape = "one distributed cluster"
    else:
        label = {"single": "single instance", "sentinel": "Sentinel", "cluster": "Cluster"}[t["mode"]]
        shape = (f"{label}, {_plural(t['shards'], 'master')}"
                 + (f" + {_plural(t['replicas_per_shard'], 'replica')}" + (" each" if t["shards"] > 1 else "")
                    if t["replicas_per_shard"] else ""))
    return f"{t['tier']}: {t['system']} {shape} {where} ({t['basis']})"
