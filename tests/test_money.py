"""Amounts in kroner: read as Norwegians type them, stored exactly, shown as they write them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dugnad.money import MAX_NOK, AmountError, canonical, for_input, format_nok, parse_nok

NBSP = "\u00a0"


@pytest.mark.parametrize(
    "typed, amount",
    [
        ("12500", "12500.00"),
        ("12 500", "12500.00"),
        ("12 500,50", "12500.50"),
        ("12500,5", "12500.50"),
        ("12500.50", "12500.50"),
        ("12.50", "12.50"),
        ("kr 12 500,-", "12500.00"),
        ("kr. 12 500", "12500.00"),
        ("Kr 12 500,50", "12500.50"),
        ("12 500 kr", "12500.00"),
        ("12 500 NOK", "12500.00"),
        ("NOK 12500", "12500.00"),
        (f"12{NBSP}500,50", "12500.50"),  # no-break space, as a word processor writes it
        ("12\u202f500", "12500.00"),  # narrow no-break space
        ("12\u2009500", "12500.00"),  # thin space
        ("1 234 567,89", "1234567.89"),
        ("  12 500  ", "12500.00"),
        ("0", "0.00"),
        ("100 000 000", "100000000.00"),  # the maximum itself
    ],
)
def test_amounts_as_norwegians_type_them(typed, amount):
    assert parse_nok(typed) == Decimal(amount)
    assert canonical(parse_nok(typed)) == amount


@pytest.mark.parametrize(
    "typed, code",
    [
        ("-500", "negative"),
        ("\u2212500", "negative"),  # the typographic minus
        ("kr -12 500,-", "negative"),
        ("12 500,505", "decimals"),
        ("12500.001", "decimals"),
        ("12.500", "thousands_dot"),  # twelve and a half, or twelve thousand five hundred?
        ("1.234.567", "thousands_dot"),
        ("tolv tusen", "format"),
        ("12a", "format"),
        ("12,50,00", "format"),
        ("1e5", "format"),
        ("", "format"),
        ("kr", "format"),
        ("100 000 000,01", "too_large"),
        ("9" * 5000, "too_large"),  # no 500 on absurd input
    ],
)
def test_what_is_not_an_amount_says_why(typed, code):
    with pytest.raises(AmountError) as refused:
        parse_nok(typed)
    assert refused.value.code == code


def test_the_maximum_is_a_hundred_million():
    assert MAX_NOK == Decimal("100000000")


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("12500.50", f"kr{NBSP}12{NBSP}500,50"),
        ("12500.00", f"kr{NBSP}12{NBSP}500"),
        ("1234567.05", f"kr{NBSP}1{NBSP}234{NBSP}567,05"),
        ("999.00", f"kr{NBSP}999"),
        ("0.00", f"kr{NBSP}0"),
        ("", ""),
    ],
)
def test_shown_with_no_break_spaces_so_an_amount_never_breaks(stored, shown):
    assert format_nok(stored) == shown


@pytest.mark.parametrize("stored, typed", [("12500.50", "12 500,50"), ("12500.00", "12 500"), ("", "")])
def test_the_form_shows_the_amount_as_it_is_typed(stored, typed):
    assert for_input(stored) == typed
    if stored:
        assert canonical(parse_nok(for_input(stored))) == stored  # and reads back the same
