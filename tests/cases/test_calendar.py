"""Working-time arithmetic across the 2026 National Day week, with a frozen clock.

The holiday rows are EXAMPLES of the 2026 schedule (Oct 1–7 off; Sun Sept 27 and Sat Oct 10 are
make-up working days) as the module's seed writes them; a district edits its own calendar."""
import datetime as dt

import pytest
from django_tenants.utils import tenant_context

from modules.cases import selectors, services
from modules.cases.calendar import END_OF_DAY, TZ, WorkCalendar
from tests.cases.conftest import T0, at
from tests.conftest import admin_of

pytestmark = pytest.mark.django_db

EXAMPLE_NATIONAL_DAY = {**{dt.date(2026, 10, d): False for d in range(1, 8)},
                        dt.date(2026, 9, 27): True,  # example make-up day (a Sunday)
                        dt.date(2026, 10, 10): True}  # example make-up day (a Saturday)


def eod(y, m, d):
    return dt.datetime.combine(dt.date(y, m, d), END_OF_DAY, tzinfo=TZ)


def test_working_days_skip_the_holiday_week_and_count_make_up_days():
    cal = WorkCalendar(EXAMPLE_NATIONAL_DAY)
    assert not cal.is_working_day(dt.date(2026, 10, 1))  # a Thursday, but National Day
    assert cal.is_working_day(dt.date(2026, 10, 10))  # a Saturday, but a make-up day
    assert not cal.is_working_day(dt.date(2026, 10, 11))  # an ordinary Sunday
    assert cal.add_working_days(T0, 1) == eod(2026, 10, 8)  # Wed Sept 30 → Thu Oct 8
    assert cal.add_working_days(T0, 3) == eod(2026, 10, 10)  # Oct 8, 9, Sat 10
    assert cal.add_working_days(T0, 5) == eod(2026, 10, 13)  # …, Mon 12, Tue 13
    assert cal.add_working_days(at(2026, 9, 25, 17, 0), 1) == eod(2026, 9, 27)  # Fri → the make-up Sunday
    assert cal.add_working_days(at(2026, 10, 3, 9, 0), 1) == eod(2026, 10, 8)  # received on a holiday
    assert cal.working_days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 13)) == 5


def test_plain_weekends_and_utc_input():
    cal = WorkCalendar()
    friday_evening_utc = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)  # Fri 23:30 in Shanghai
    assert cal.add_working_days(friday_evening_utc, 1) == eod(2026, 11, 23)
    late_utc = dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)  # already Saturday 00:30 in Shanghai
    assert cal.add_working_days(late_utc, 1) == eod(2026, 11, 23)
    assert cal.add_working_days(at(2026, 11, 23, 9, 0), 0) == eod(2026, 11, 23)


def test_hour_limits_are_clock_time_even_on_holidays():
    cal = WorkCalendar(EXAMPLE_NATIONAL_DAY)
    assert cal.due(T0, 24, "hours") == at(2026, 10, 1, 10, 0)
    with pytest.raises(ValueError):
        cal.due(T0, 1, "fortnights")


def test_selector_loads_the_districts_example_holidays(kangbashi):
    with tenant_context(kangbashi):  # the module's seed wrote the example 2026 calendar
        cal = selectors.work_calendar(T0)
        assert cal.overrides[dt.date(2026, 10, 1)] is False
        assert cal.overrides[dt.date(2026, 10, 10)] is True
        assert cal.add_working_days(T0, 5) == eod(2026, 10, 13)
        services.set_holiday(actor=admin_of(kangbashi), date=dt.date(2026, 10, 12), name="区里加一天（测试）")
        assert selectors.work_calendar(T0).add_working_days(T0, 5) == eod(2026, 10, 14)


def test_intake_sees_a_calendar_change_at_once(kangbashi):
    """Routing and the calendar are cached per district; every change of them forgets the cache."""
    from modules.cases.services import holiday_rows

    admin = admin_of(kangbashi)
    with tenant_context(kangbashi):
        assert selectors.routing(T0).calendar.add_working_days(T0, 5) == eod(2026, 10, 13)
        services.set_holiday(actor=admin, date=dt.date(2026, 10, 12), name="区里加一天（测试）")
        assert selectors.routing(T0).calendar.add_working_days(T0, 5) == eod(2026, 10, 14)
        services.delete_holiday(actor=admin, date=dt.date(2026, 10, 12))
        assert selectors.routing(T0).calendar.add_working_days(T0, 5) == eod(2026, 10, 13)
        services.import_holidays(actor=admin, entries=holiday_rows.parse_holiday_lines("2026-10-09 休 测试"))
        assert selectors.routing(T0).calendar.add_working_days(T0, 5) == eod(2026, 10, 14)
