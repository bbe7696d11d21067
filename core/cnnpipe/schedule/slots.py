"""Cron slots through croniter: validation, and the slots that fell due between two instants."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import UsageError

# Kubernetes CronJob accepts five fields or these macros, so a schedule can always be exported.
MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


# What Kubernetes' cron parser (robfig/cron, standard) reads in each field: `*` or `?`, a value or a range, an
# optional step, joined by commas; names only for months and weekdays, weekdays 0-6.  croniter reads more
# (`L`, `W`, `#`, `H`, weekday 7), which a CronJob would refuse.
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAYS = "sun mon tue wed thu fri sat".split()
FIELDS = (("minute", (), 59), ("hour", (), 23), ("day of month", (), 31), ("month", MONTHS, 12), ("weekday", DAYS, 6))
TERM_RE = re.compile(r"^(?:[*?]|(\w+)(?:-(\w+))?)(?:/\d+)?$")


def portable(expr: str) -> None:
    """Refuse five cron fields that croniter reads but Kubernetes would not, naming the field."""
    for text, (field, names, most) in zip(expr.split(), FIELDS):
        for term in text.split(","):
            match = TERM_RE.match(term)
            values = [v for v in match.groups() if v] if match else None
            if values is None or not all(v.isdigit() and int(v) <= most or v.lower() in names for v in values):
                raise UsageError(f"cron expression '{expr}': '{term}' in the {field} field is not standard cron "
                                 "(Kubernetes refuses L, W, #, H and weekday 7); use numbers, ranges, steps and lists")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a one-line error otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone '{name}'; use an IANA name such as UTC or Europe/Berlin")


def check(expr: str, tz: str) -> None:
    """Refuse an expression croniter cannot read or Kubernetes would not accept."""
    from croniter import croniter

    zone(tz)
    text = expr.strip()
    fields = text.split()
    if not text or (text.startswith("@") and text not in MACROS) or (not text.startswith("@") and len(fields) != 5):
        raise UsageError(f"invalid cron expression '{expr}': give five fields (minute hour day month weekday) or @daily-style macro")
    if not croniter.is_valid(text):
        raise UsageError(f"invalid cron expression '{expr}': croniter cannot read it")
    if not text.startswith("@"):
        portable(text)
    try:
        next_slot(text, tz, datetime.now(timezone.utc).timestamp())
    except (ValueError, OverflowError):
        # Valid fields that no date satisfies, like February 30th ("0 0 30 2 *").
        raise UsageError(f"cron expression '{expr}' never matches a date")


def repeated(it, slot: float, tz: str) -> bool:
    """A fixed-hour slot in the hour that clocks repeat when daylight saving ends (run once, as cron does)."""
    hours = it.expanded[1]
    return datetime.fromtimestamp(slot, zone(tz)).fold == 1 and not (hours == ["*"] or len(hours) == 24)


def due(expr: str, tz: str, after: float, now: float, cap: int = 1000) -> list[float]:
    """Slot times (epoch seconds) in ``(after, now]``, oldest first; at most the newest ``cap``."""
    from croniter import croniter

    # Walk back from now so that a scheduler that was down for a year does not iterate every slot.
    it = croniter(expr.strip(), datetime.fromtimestamp(now + 1, zone(tz)))
    slots: list[float] = []
    while len(slots) < cap:
        slot = it.get_prev(float)
        if slot <= after:
            break
        if slot <= now and not repeated(it, slot, tz):
            slots.append(slot)
    return slots[::-1]


def next_slot(expr: str, tz: str, after: float) -> float:
    """The first slot after ``after``."""
    from croniter import croniter

    it = croniter(expr.strip(), datetime.fromtimestamp(after, zone(tz)))
    while repeated(it, slot := it.get_next(float), tz):
        pass
    return slot


def show(ts, tz: str = "UTC") -> str:
    """An epoch time as ``YYYY-MM-DD HH:MM:SS TZ`` in ``tz``; ``-`` for none."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, zone(tz) if tz else timezone.utc).strftime("%Y-%m-%d %H:%M:%S %Z")
