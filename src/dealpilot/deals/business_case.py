"""The figures of a business case, as plain functions: cumulative return per period, time to first
return, payback, ROI, fees at risk. Money stays Decimal in the case's currency."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_PERIODS = 120


class BenefitsError(ValueError):
    pass


def parse_benefits(text: str) -> list[Decimal]:
    """'0, 5000, 12000.50' (commas, semicolons, spaces or lines) -> Decimals; thousands separators
    are not accepted (a comma separates periods)."""
    parts = [p for p in text.replace(";", " ").replace(",", " ").split() if p]
    if not parts:
        raise BenefitsError("give the net benefit of at least one period")
    if len(parts) > MAX_PERIODS:
        raise BenefitsError(f"at most {MAX_PERIODS} periods")
    values = []
    for p in parts:
        try:
            value = Decimal(p)
        except InvalidOperation:
            raise BenefitsError(f"'{p}' is not a number") from None
        if not value.is_finite() or abs(value) >= Decimal("1e15"):
            raise BenefitsError(f"'{p}' is not a usable amount")
        values.append(value.quantize(Decimal("0.01")))
    return values


@dataclass(frozen=True)
class CaseFigures:
    investment: Decimal
    benefits: list[Decimal]
    cumulative: list[Decimal]  # after each period, starting from -investment
    total_benefit: Decimal
    net_return: Decimal
    roi: Decimal | None  # net return / investment
    first_return_period: int | None  # 1-based: the first period with a positive benefit
    payback_periods: Decimal | None  # periods until the cumulative return reaches zero (interpolated)
    fees_at_risk: Decimal | None


def figures(investment: Decimal, benefits: list[Decimal], *, risk_share: Decimal = Decimal(0),
            fees: Decimal | None = None) -> CaseFigures:
    cumulative, running = [], -investment
    payback = None
    for i, b in enumerate(benefits, start=1):
        before = running
        running += b
        cumulative.append(running)
        if payback is None and running >= 0 and b > 0:
            payback = (Decimal(i - 1) + (-before / b if before < 0 else Decimal(0))).quantize(Decimal("0.1"))
    if investment <= 0 and payback is None:
        payback = Decimal(0)
    total = sum(benefits, Decimal(0))
    net = total - investment
    roi = (net / investment).quantize(Decimal("0.0001")) if investment > 0 else None
    first = next((i for i, b in enumerate(benefits, start=1) if b > 0), None)
    at_risk = (fees * risk_share / 100).quantize(Decimal("0.01")) if fees is not None else None
    return CaseFigures(investment, list(benefits), cumulative, total, net, roi, first, payback, at_risk)
