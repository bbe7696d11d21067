"""Cron slots through croniter: time zones, daylight saving, long outages, and refused expressions."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cnnpipe.errors import UsageError
from cnnpipe.schedule import slots

TZ = "Europe/Berlin"


def at(*args) -> float:
    return datetime(*args, tzinfo=ZoneInfo(TZ)).timestamp()


def wall(ts) -> list[str]:
    return [slots.show(t, TZ) for t in ts]


def test_a_nightly_slot_runs_once_across_both_daylight_saving_changes():
    spring = slots.due("30 2 * * *", TZ, at(2026, 3, 28, 12), at(2026, 3, 30, 12))
    assert wall(spring) == ["2026-03-29 03:00:00 CEST", "2026-03-30 02:30:00 CEST"]  # 02:30 does not exist
    autumn = slots.due("30 2 * * *", TZ, at(2026, 10, 24, 12), at(2026, 10, 26, 12))
    assert wall(autumn) == ["2026-10-25 02:30:00 CEST", "2026-10-26 02:30:00 CET"]  # not again at 02:30 CET
    assert slots.next_slot("30 2 * * *", TZ, autumn[0]) == autumn[1]


def test_an_hourly_slot_runs_in_both_repeated_hours():
    hourly = slots.due("30 * * * *", TZ, at(2026, 10, 25, 1, 45), at(2026, 10, 25, 3, 45))
    assert len(hourly) == 3 and hourly[1] - hourly[0] == hourly[2] - hourly[1] == 3600


def test_the_interval_is_open_at_the_start_and_closed_at_the_end():
    assert slots.due("0 2 * * *", "UTC", 0, 2 * 3600) == [7200]
    assert slots.due("0 2 * * *", "UTC", 7200, 7200 + 86399) == []


def test_a_year_down_keeps_only_the_newest_slots():
    due = slots.due("* * * * *", "UTC", 0, 365 * 86400, cap=1000)
    assert len(due) == 1000 and due[-1] == 365 * 86400 and due[0] == 365 * 86400 - 999 * 60


@pytest.mark.parametrize("expr, tz, message", [
    ("", "UTC", "give five fields"),
    ("* * * *", "UTC", "give five fields"),
    ("0 0 * * * *", "UTC", "give five fields"),
    ("@every_other_day", "UTC", "invalid cron expression"),
    ("0 2 30 2 * junk", "UTC", "give five fields"),
    ("60 * * * *", "UTC", "croniter cannot read it"),
    ("0 2 * * mon-xyz", "UTC", "croniter cannot read it"),
    ("0 2 * * *", "Europe/Nowhere", "unknown time zone"),
    ("0 2 * * *", "../etc/passwd", "unknown time zone"),
])
def test_bad_expressions_and_zones_are_refused(expr, tz, message):
    with pytest.raises(UsageError, match=message):
        slots.check(expr, tz)


@pytest.mark.parametrize("expr", ["0 2 * * *", "*/15 9-17 * * mon-fri", "@daily", "@hourly", "0 0 1 */3 *"])
def test_good_expressions_pass(expr):
    slots.check(expr, "America/New_York")
