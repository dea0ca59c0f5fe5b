"""Long lists are shown a page at a time: a page of rows and the total in one query."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func

from .extensions import db

PAGE_SIZE = 25


def requested_page(value: str | None) -> int:
    """The page asked for in the URL; anything that is not a sensible page number is page 1."""
    value = value or "1"
    return max(1, int(value)) if value.isdigit() and len(value) < 7 else 1


@dataclass
class Page:
    rows: list
    number: int
    pages: int
    total: int


def page_of(statement, number: int, size: int = PAGE_SIZE) -> Page:
    """Rows `number` of `statement` (ORM entities), `size` per page, with the total from a
    window count in the same query. Past the end (an old bookmark) gives the last page."""
    result = db.session.execute(
        statement.add_columns(func.count().over().label("total")).limit(size).offset((number - 1) * size)
    ).all()
    if not result and number > 1:
        total = db.session.scalar(statement.with_only_columns(func.count()).order_by(None))
        last = max(1, math.ceil(total / size))
        if last < number:
            return page_of(statement, last, size)
    total = result[0].total if result else 0
    return Page([row[0] for row in result], number, max(1, math.ceil(total / size)), total)
