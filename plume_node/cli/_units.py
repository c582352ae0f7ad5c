"""Amounts on the command line: "10" (wei), "1.5plume", "2gwei", "10wei".

One plume is 10**18 wei, like one ether. Amounts are parsed with `Decimal`
so "0.1plume" is exactly 10**17 wei, and a fraction of a wei is an error
rather than a silent rounding.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext

UNITS: dict[str, int] = {
    "wei": 1,
    "kwei": 10**3,
    "mwei": 10**6,
    "gwei": 10**9,
    "microplume": 10**12,
    "milliplume": 10**15,
    "plume": 10**18,
    "ether": 10**18,  # aliases: one plume is one ether's worth of wei
    "eth": 10**18,
}

_AMOUNT = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)\s*([a-zA-Z]*)\s*$")


class AmountError(ValueError):
    pass


def parse_amount(text: str) -> int:
    """Wei in `text`; raises AmountError with what is wrong and what is accepted."""
    match = _AMOUNT.match(text)
    if match is None:
        raise AmountError(
            f"invalid amount {text!r}: use a number of wei or a number with a unit, "
            f"like 1000000000, 1.5plume, 2gwei ({', '.join(UNITS)})"
        )
    number, unit = match.group(1).replace("_", ""), match.group(2).lower()
    if unit == "":
        unit = "wei"
    if unit not in UNITS:
        raise AmountError(f"invalid amount {text!r}: unknown unit {match.group(2)!r}; use one of {', '.join(UNITS)}")
    # Exact arithmetic: the default 28 significant digits would round
    # 10000000000.000000000000000001plume to a wrong number of wei.
    with localcontext() as ctx:
        ctx.prec = 200
        try:
            value = Decimal(number) * UNITS[unit]
        except InvalidOperation as exc:
            raise AmountError(f"invalid amount {text!r}") from exc
    if value != value.to_integral_value():
        raise AmountError(f"invalid amount {text!r}: that is a fraction of a wei ({value} wei)")
    wei = int(value)
    if wei >= 2**256:
        raise AmountError(f"invalid amount {text!r}: larger than 2**256 wei")
    return wei


def format_plume(wei: int) -> str:
    """Wei as a human amount: "1.5 PLUME" (exact, trailing zeros trimmed)."""
    sign = "-" if wei < 0 else ""
    whole, frac = divmod(abs(wei), 10**18)
    if frac == 0:
        return f"{sign}{whole} PLUME"
    return f"{sign}{whole}.{str(frac).rjust(18, '0').rstrip('0')} PLUME"


def format_gwei(wei: int) -> str:
    whole, frac = divmod(wei, 10**9)
    if frac == 0:
        return f"{whole} gwei"
    return f"{whole}.{str(frac).rjust(9, '0').rstrip('0')} gwei"
