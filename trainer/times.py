"""London time: everything is stored in UTC and shown in Europe/London (GMT or BST)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def to_london(moment: datetime) -> datetime:
    """The same instant on London's clocks. Naive datetimes are taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LONDON)


def london_wall_clock(moment: datetime) -> datetime:
    """The naive wall-clock time London's clocks show at an instant (naive datetimes are taken
    to be UTC): what a person would type back for it."""
    return to_london(moment).replace(tzinfo=None)


class NoSuchTime(ValueError):
    """A London wall-clock time skipped when the clocks go forward."""


def london_to_utc(local: datetime) -> datetime:
    """The UTC instant of a naive London wall-clock time. Raises :class:`NoSuchTime` for a
    time the clocks skip; an hour that happens twice (clocks going back) means the first."""
    instant = local.replace(tzinfo=LONDON).astimezone(UTC)
    if london_wall_clock(instant) != local:
        raise NoSuchTime(local)
    return instant


def clock(moment: datetime) -> str:
    """``6:30pm``, ``8pm``, ``12pm`` (midday) and ``12am`` (midnight)."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    if moment.minute:
        return f"{hour}:{moment.minute:02d}{suffix}"
    return f"{hour}{suffix}"


def day(value: date | datetime) -> str:
    """``Tuesday 3 March 2026`` (a datetime is first moved to London time)."""
    if isinstance(value, datetime):
        value = to_london(value)
    return f"{value:%A} {value.day} {value:%B %Y}"


def moment(value: datetime) -> str:
    """``Tuesday 3 March 2026, 6:30pm`` in London time."""
    local = to_london(value)
    return f"{day(local)}, {clock(local)}"


def span(start: datetime, end: datetime) -> str:
    """``Tuesday 3 March 2026, 6:30pm to 8pm`` in London time; the end's day is named when
    it differs."""
    local_start, local_end = to_london(start), to_london(end)
    if local_start.date() == local_end.date():
        return f"{day(local_start)}, {clock(local_start)} to {clock(local_end)}"
    return f"{moment(start)} to {moment(end)}"
