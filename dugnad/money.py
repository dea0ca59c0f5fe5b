"""Amounts in Norwegian kroner, read as Norwegians type them and shown as they write them.

Stored as a canonical decimal string with two decimals ("12500.50"), so JSON keeps
them exact.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

#: No grant to a local organisation comes near this; a larger number is a typing error.
MAX_NOK = Decimal("100000000")

# Spaces Norwegians and spreadsheets put between thousands: space, no-break, narrow no-break, thin.
_GROUP_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")
_PREFIX = re.compile(r"^(kr\.?|nok)\s*", re.IGNORECASE)
_SUFFIX = re.compile(r"\s*(,-|kr\.?|nok)$", re.IGNORECASE)


class AmountError(ValueError):
    """Why the text is not an amount; `code` picks the message the form shows."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def parse_nok(text: str) -> Decimal:
    """'12 500', '12 500,50', '12500.50', 'kr 12 500,-' -> Decimal('12500.50').

    Raises AmountError with code: 'format', 'negative', 'decimals', 'thousands_dot'
    (e.g. '12.500': a dot before three digits is ambiguous, so it is refused rather
    than read as twelve and a half) or 'too_large'.
    """
    value = (text or "").strip()
    value = _SUFFIX.sub("", _PREFIX.sub("", value)).strip()
    negative = value.startswith(("-", "\u2212"))
    if negative:
        value = value[1:].strip()
    value = _GROUP_SPACES.sub("", value)
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", value):
        raise AmountError("thousands_dot")
    if not re.fullmatch(r"\d+([.,]\d+)?", value):
        raise AmountError("format")
    whole, _, fraction = value.replace(",", ".").partition(".")
    if negative and (whole.strip("0") or fraction.strip("0")):
        raise AmountError("negative")
    if len(fraction) > 2:
        raise AmountError("decimals")
    try:
        amount = Decimal(f"{whole}.{fraction or '0'}")
    except InvalidOperation as error:  # pragma: no cover - the pattern above admits only digits
        raise AmountError("format") from error
    if amount > MAX_NOK:
        raise AmountError("too_large")
    return amount.quantize(Decimal("0.01"))


def canonical(amount: Decimal) -> str:
    return f"{amount:.2f}"


def format_nok(stored: str) -> str:
    """'12500.50' -> 'kr 12 500,50'; whole kroner without decimals: 'kr 12 500'.

    Thousands are grouped with a no-break space so an amount never breaks across lines.
    """
    if not stored:
        return ""
    amount = Decimal(stored)
    whole, _, fraction = f"{amount:.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    return f"kr\u00a0{grouped}" + ("" if fraction == "00" else f",{fraction}")


def for_input(stored: str) -> str:
    """How a stored amount reads back in the form field: '12 500,50'."""
    return format_nok(stored).removeprefix("kr\u00a0").replace("\u00a0", " ")
