"""Cost terms: each cost of a plan is built once, as a term, and read twice from that one object.

A term is a priced quantity: category, item, unit, `usd_per_unit` (or a graduated tier list), and a quantity
that is a linear expression of the model's variables while the MILP is built (a plain number where it does not
depend on the solution). The objective is the sum of the terms' costs; after the solve the same terms are
evaluated into the plan's cost lines. There is no second formula to keep in step with the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulp

from planner.catalog.records import PriceRef, TransferTier
from planner.model import CostLine, Node


def solved(expression: Any) -> float:
    """Value of a number, variable or linear expression after the solve. Integer and binary variables are
    read rounded (solvers return 0.9999999 for 1) so quantities like "3 servers" are whole."""
    if expression is None:
        return 0.0
    if isinstance(expression, (int, float)):
        return float(expression)
    if isinstance(expression, pulp.LpVariable):
        expression = pulp.LpAffineExpression(expression)
    total = float(expression.constant)
    for variable, coefficient in expression.items():
        value = float(variable.value() or 0.0)
        if variable.cat == pulp.LpInteger:
            value = float(round(value))
        total += coefficient * value
    return total


@dataclass(frozen=True)
class NodeSpec:
    """The node row a compute term stands for: what runs, and its count in each distinct slice."""

    tier: str
    provider: str
    region: str
    type: str
    purchase: str
    vcpu: int
    memory_gib: float
    counts: tuple  # expressions; the row shows the largest (busiest slice)
    node_hours: object = 0.0  # expression: node-hours a month the row stands for
    redundancy: str = ""  # a storage group's scheme over its nodes ("2 copies", "erasure coding 8+4")


@dataclass(frozen=True)
class CostTerm:
    category: str
    item: str
    unit: str
    quantity: Any  # units per month: number or linear expression
    usd_per_unit: float | None  # None when priced by `tiers`
    ref: PriceRef | None = None
    tiers: tuple[TransferTier, ...] = ()
    cost: Any = None  # linear cost expression for tiered prices (tier pieces); else usd_per_unit * quantity
    basis: str = ""  # how the quantity or price was derived, where a reader needs it (labour, estimates)
    node: NodeSpec | None = None
    # what `implan roadmap` buys or commits in place of this monthly cost: "server:<sku>" (own servers, paid up
    # front when bought) or "commit:<offering key>" (always-on nodes a 1- or 3-year commitment can cover)
    asset: str = ""

    def __post_init__(self):
        if (self.usd_per_unit is None) == (self.cost is None):
            raise ValueError(f"term {self.item!r}: give usd_per_unit, or tiers with their cost expression")

    def objective(self) -> Any:
        return self.cost if self.cost is not None else self.usd_per_unit * self.quantity

    def line(self) -> CostLine:
        quantity = solved(self.quantity)
        cost = solved(self.objective())
        price = self.usd_per_unit if self.usd_per_unit is not None else (cost / quantity if quantity else 0.0)
        return CostLine(self.category, self.item, quantity, self.unit, cost, self.ref, usd_per_unit=price,
                        tiers=self.tiers, basis=self.basis)

    def node_row(self) -> Node | None:
        spec = self.node
        if spec is None:
            return None
        count = max((round(solved(c)) for c in spec.counts), default=0)
        if count <= 0:
            return None
        return Node(spec.tier, spec.provider, spec.region, spec.type, count, spec.purchase,
                    solved(self.objective()), solved(spec.node_hours), spec.vcpu, spec.memory_gib, self.ref,
                    spec.redundancy)


def objective(terms: list[CostTerm]) -> Any:
    return pulp.lpSum(t.objective() for t in terms)


def plan_lines(terms: list[CostTerm]) -> tuple[list[CostLine], list[Node]]:
    """The solved terms as cost lines and node rows; terms that evaluate to nothing are left out."""
    lines, nodes = [], []
    for term in terms:
        line = term.line()
        if abs(line.quantity) < 1e-9 and abs(line.monthly_cost_usd) < 1e-9:
            continue
        lines.append(line)
        row = term.node_row()
        if row is not None:
            nodes.append(row)
    return lines, nodes
