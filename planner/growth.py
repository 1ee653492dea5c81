"""The roadmap's time axis: MAU month by month from the workload's `growth:` section, the periods the roadmap
plans (months or quarters), and the discount factor of a payment in a given month. Pure: no solver here."""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import WorkloadError
from planner.units import MONTHS_PER_YEAR
from planner.workload import MAX_MAU, Workload

PERIOD_MONTHS = {"month": 1, "quarter": 3}


@dataclass(frozen=True)
class Period:
    """Months first_month .. first_month + months - 1 (0-based), sized for the busiest of them: capacity must
    hold in every month of the period, so a quarter is planned at its largest MAU."""

    index: int
    first_month: int
    months: int
    mau: int

    @property
    def month_numbers(self) -> range:
        return range(self.first_month, self.first_month + self.months)


def mau_by_month(workload: Workload) -> list[int]:
    """MAU of every month of the horizon: the explicit series, or users.mau compounded monthly at the rate of
    each month's year (month 1 is users.mau itself)."""
    g = workload.growth
    if g.mau_by_month is not None:
        return list(g.mau_by_month)
    rates = g.yearly_rates()
    out, mau = [], float(workload.users.mau)
    for month in range(g.horizon_months):
        if month > 0:
            mau *= 1 + rates[month // MONTHS_PER_YEAR] / 100
        if mau > MAX_MAU:
            raise WorkloadError(f"growth.monthly_growth_percent: MAU reaches {mau:.3g} in month {month + 1}, beyond "
                                f"the {MAX_MAU:.0e} the planner handles; lower the rate or growth.horizon_months")
        out.append(max(1, round(mau)))
    return out


def periods(workload: Workload, period: str) -> list[Period]:
    """The horizon cut into periods of PERIOD_MONTHS[period] months (the last one may be shorter)."""
    if period not in PERIOD_MONTHS:
        raise WorkloadError(f"--period {period}: expected one of {', '.join(PERIOD_MONTHS)}")
    step = PERIOD_MONTHS[period]
    maus = mau_by_month(workload)
    return [Period(i, start, len(maus[start:start + step]), max(maus[start:start + step]))
            for i, start in enumerate(range(0, len(maus), step))]


def discount_factor(month: int, rate_percent: float) -> float:
    """Present value of 1 USD paid at the start of 0-based `month` at a yearly discount rate (monthly
    compounding equivalent to the yearly rate, as planner.units.amortized_per_month uses)."""
    return (1 + rate_percent / 100) ** (-month / MONTHS_PER_YEAR)
