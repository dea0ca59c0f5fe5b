"""Times are stored in UTC and shown in Norway's zone, with the zone named."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

OSLO = ZoneInfo("Europe/Oslo")


def now_utc() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime in Python, a naive UTC value in the database.

    SQLite has no time zones; storing naive UTC everywhere keeps both databases
    identical and comparisons correct.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def to_oslo(value: datetime) -> datetime:
    return value.astimezone(OSLO)


def from_oslo_local(value: datetime) -> datetime:
    """A naive wall-clock time typed by a user in Norway, as an aware datetime."""
    return value.replace(tzinfo=OSLO)


def format_oslo(value: datetime | None, with_zone: bool = True) -> str:
    """'25.11.2026 14:02 (CET, Europe/Oslo)': the zone is always named."""
    if value is None:
        return ""
    local = to_oslo(value)
    text = local.strftime("%d.%m.%Y %H:%M")
    if with_zone:
        text += f" ({local.tzname()}, Europe/Oslo)"
    return text


def today_oslo() -> date:
    """Today as it is in Norway: dates in agreements are Norwegian calendar dates."""
    return to_oslo(now_utc()).date()
