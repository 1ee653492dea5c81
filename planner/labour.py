"""Operations labour: one function prices it for every self-run strategy (public VMs, own servers, hybrid).

Software operations scale with the distinct self-managed systems (database, cache, IM servers, load balancer,
object store) and with the number of nodes, both divided by what the automation level lets one engineer run;
hardware operations (racking, RMA, swaps) only where servers are owned. A managed service is not a self-run
system, so it adds no software-operations labour. Figures: planner/data/labour.yaml (sourced, estimates marked);
the workload's `labour:` section picks the level and may override them.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
from dataclasses import dataclass
from typing import Any, Literal

import pulp
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.catalog.records import PriceRef
from planner.errors import CatalogError
from planner.model import LABOUR
from planner.terms import CostTerm
from planner.units import per_year_to_per_month

AUTOMATION_LEVELS = ("manual", "scripted", "iac", "autonomous")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Source(_Strict):
    title: str
    url: str
    as_of: dt.date
    note: str = ""


class _Figure(_Strict):
    source: str
    basis: str


class _FteCost(_Figure):
    usd_per_fte_year: float = Field(gt=0)


class _Level(_Figure):
    nodes_per_fte: float = Field(gt=0)
    fte_per_system: float = Field(ge=0)


class _Hardware(_Figure):
    servers_per_fte: float = Field(gt=0)


class _Minimum(_Figure):
    value: float = Field(ge=0)


class _Migration(_Figure):
    fte_months_per_system: float = Field(ge=0)


class _LabourFile(_Strict):
    schema_id: Literal["implan-labour/1"] = Field(alias="schema")
    sources: dict[str, _Source]
    fte_cost: _FteCost
    automation_levels: dict[Literal["manual", "scripted", "iac", "autonomous"], _Level]
    hardware: _Hardware
    minimum_fte: _Minimum
    migration: _Migration


@dataclass(frozen=True)
class LabourRates:
    """The labour figures one plan uses, after the workload's overrides."""

    automation: str
    usd_per_fte_month: float
    nodes_per_fte: float
    fte_per_system: float
    hardware_servers_per_fte: float
    minimum_fte: float
    fte_ref: PriceRef  # the price per FTE; the others say where the FTE counts come from
    level_ref: PriceRef
    hardware_ref: PriceRef
    minimum_ref: PriceRef
    migration_fte_months_per_system: float = 0.0  # engineering time to move one self-run system off a cloud
    migration_ref: PriceRef | None = None


def _ref(data: _LabourFile, figure: _Figure, overridden: str | None) -> PriceRef:
    source = data.sources[figure.source]
    field = overridden if overridden is None or "." in overridden else f"labour.{overridden}"
    basis = f"workload {field} (user input)" if overridden else figure.basis
    estimated = ("value",) if "estimate" in basis or overridden else ()
    return PriceRef("labour", figure.source, source.title, source.url, source.as_of, "USD", estimated, basis)


@functools.lru_cache(maxsize=1)
def _load() -> _LabourFile:
    path = importlib.resources.files("planner") / "data" / "labour.yaml"
    try:
        data = _LabourFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CatalogError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    for name in ("fte_cost", "hardware", "minimum_fte", "migration", *(f"automation_levels.{k}" for k in data.automation_levels)):
        figure = data
        for part in name.split("."):
            figure = figure[part] if isinstance(figure, dict) else getattr(figure, part)
        if figure.source not in data.sources:
            raise CatalogError(f"{path}: {name}.source: unknown source key {figure.source!r}")
    missing = [level for level in AUTOMATION_LEVELS if level not in data.automation_levels]
    if missing:
        raise CatalogError(f"{path}: automation_levels: missing {', '.join(missing)}")
    return data


def labour_rates(workload) -> LabourRates:
    """The shipped figures for the workload's automation level, with its `labour.*` overrides applied."""
    data, w = _load(), workload.labour
    level = data.automation_levels[w.automation]
    fte_year = w.usd_per_fte_year if w.usd_per_fte_year is not None else data.fte_cost.usd_per_fte_year
    migration = workload.growth.migration_fte_months_per_system
    hardware = w.hardware_servers_per_fte or workload.private.servers_per_fte or data.hardware.servers_per_fte
    return LabourRates(
        automation=w.automation, usd_per_fte_month=per_year_to_per_month(fte_year),
        nodes_per_fte=w.nodes_per_fte or level.nodes_per_fte,
        fte_per_system=level.fte_per_system if w.fte_per_system is None else w.fte_per_system,
        hardware_servers_per_fte=hardware,
        minimum_fte=data.minimum_fte.value if w.minimum_fte is None else w.minimum_fte,
        fte_ref=_ref(data, data.fte_cost, "usd_per_fte_year" if w.usd_per_fte_year is not None else None),
        level_ref=_ref(data, level, "nodes_per_fte" if w.nodes_per_fte or w.fte_per_system is not None else None),
        hardware_ref=_ref(data, data.hardware, "hardware_servers_per_fte" if hardware != data.hardware.servers_per_fte
                          else None),
        minimum_ref=_ref(data, data.minimum_fte, "minimum_fte" if w.minimum_fte is not None else None),
        migration_fte_months_per_system=(data.migration.fte_months_per_system if migration is None else migration),
        migration_ref=_ref(data, data.migration, None if migration is None else
                           "growth.migration_fte_months_per_system"))


def labour_terms(prob: pulp.LpProblem, name: str, rates: LabourRates, systems: list[tuple[str, Any]], nodes: Any,
                 owned_servers: Any = None, active: Any = 1) -> list[CostTerm]:
    """Labour lines of one self-run deployment, the same rule for every strategy.

    systems: (self-managed system, expression that is 1 when the plan runs it); nodes: average self-run nodes
    (VMs or servers) as an expression; owned_servers: own servers (None where none are owned); active: 1 when
    the deployment is chosen (the minimum staffing applies only then). Adds the top-up constraint to `prob`."""
    rate = rates.usd_per_fte_month
    level = f"{rates.automation} automation"
    ref, how = rates.fte_ref, rates.level_ref.estimate_basis
    terms = [CostTerm(LABOUR, f"software operations: {system} ({level})", "FTE", rates.fte_per_system * on, rate,
                      ref, basis=f"{rates.fte_per_system:g} FTE per self-run system; {how}")
             for system, on in systems]
    terms.append(CostTerm(LABOUR, f"software operations: nodes ({level})", "FTE", nodes / rates.nodes_per_fte, rate,
                          ref, basis=f"{rates.nodes_per_fte:g} nodes per FTE; {how}"))
    if owned_servers is not None:
        terms.append(CostTerm(LABOUR, "hardware operations: own servers", "FTE",
                              owned_servers / rates.hardware_servers_per_fte, rate, ref,
                              basis=f"{rates.hardware_servers_per_fte:g} servers per FTE; "
                                    f"{rates.hardware_ref.estimate_basis}"))
    if rates.minimum_fte > 0:
        top_up = prob.add_variable(f"labour_min_{name}", lowBound=0)
        prob += top_up >= rates.minimum_fte * active - pulp.lpSum(t.quantity for t in terms), f"labour-min-{name}"
        terms.append(CostTerm(LABOUR, "minimum staffing top-up", "FTE", top_up, rate, ref,
                              basis=f"at least {rates.minimum_fte:g} FTE in all; {rates.minimum_ref.estimate_basis}"))
    return terms


def migration_labour_term(rates: LabourRates, systems: list[str], chosen: Any = 1) -> CostTerm:
    """Engineering time of a move from a cloud to own servers: the labour rate times the engineer-months each
    self-managed system takes to move (planner/data/labour.yaml, migration), counted when `chosen` is 1."""
    fte_months = rates.migration_fte_months_per_system * len(systems)
    return CostTerm(LABOUR, f"migration engineering: {', '.join(systems)}", "FTE-months", fte_months * chosen,
                    rates.usd_per_fte_month, rates.fte_ref,
                    basis=f"{rates.migration_fte_months_per_system:g} engineer-months per self-run system; "
                          f"{rates.migration_ref.estimate_basis if rates.migration_ref else ''}")
