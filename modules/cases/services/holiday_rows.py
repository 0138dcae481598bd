"""The holiday calendar as lines (``2027-10-01~2027-10-07 休 国庆节``, pasted or one a row of an uploaded
workbook): ``parse_holiday_lines`` checks every line and names each bad one; ``holiday_workbook`` is
the template of a year; ``year_summary`` counts a year's working days under the calendar."""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from kernel.errors import DomainError
from kernel.workbooks import cell_text
from modules.cases.calendar import WorkCalendar
from modules.cases.models import Holiday
from modules.cases.services.rlist_rows import _fail, open_workbook

HOLIDAY_RANGE_MAX_DAYS = 31
HOLIDAY_NAME_MAX = 40
OFF_WORDS = ("休", "放假", "休息", "假", "off", "holiday", "rest")
WORK_WORDS = ("班", "上班", "补班", "调休上班", "work", "working", "workday")
_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_LINE = re.compile(rf"^{_DATE}(?:\s*(?:~|～|至|到|\.\.|—|–)\s*{_DATE})?(?:[\s,，;；]+([^\s,，;；]+))?(?:[\s,，;；]+(.*))?$")


@dataclass(frozen=True)
class HolidayEntry:
    line: int
    date: dt.date
    is_working_day: bool
    name: str


def _kind(word: str) -> bool | None:
    word = (word or "").strip().lower()
    if word in OFF_WORDS:
        return False
    if word in WORK_WORDS:
        return True
    return None


def parse_holiday_lines(text: str, *, numbers: list[int] | None = None) -> list[HolidayEntry]:
    """``2027-01-01 休 元旦`` or ``2027-10-01~2027-10-07 休 国庆节`` or ``2027-09-26 班 国庆调休``, one a line
    (``#`` starts a comment). Every bad line is named; nothing is returned if any line is bad."""
    entries: list[HolidayEntry] = []
    errors: dict[str, list[str]] = {}
    lines = (text or "").splitlines()
    for index, raw in enumerate(lines):
        number = numbers[index] if numbers else index + 1
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        problems: list[str] = []
        match = _LINE.match(line)
        if not match:
            problems.append(_("write a date like 2027-01-01, then 休 (off) or 班 (make-up working day), then the name."))
        else:
            g = match.groups()
            try:
                first = dt.date(int(g[0]), int(g[1]), int(g[2]))
                last = dt.date(int(g[3]), int(g[4]), int(g[5])) if g[3] else first
            except ValueError:
                first = last = None
                problems.append(_("there is no such date."))
            working = _kind(g[6] or "")
            if working is None:
                problems.append(_("say 休 (off) or 班 (make-up working day), not “%(word)s”.") % {"word": g[6] or ""})
            name = (g[7] or "").strip()
            if len(name) > HOLIDAY_NAME_MAX:
                problems.append(_("the name is at most %(n)d characters.") % {"n": HOLIDAY_NAME_MAX})
            if first and last:
                if last < first:
                    problems.append(_("the range ends before it starts."))
                elif (last - first).days >= HOLIDAY_RANGE_MAX_DAYS:
                    problems.append(_("a range is at most %(n)d days.") % {"n": HOLIDAY_RANGE_MAX_DAYS})
            if not problems:
                day = first
                while day <= last:
                    entries.append(HolidayEntry(number, day, working, name))
                    day += dt.timedelta(days=1)
        if problems:
            errors[f"line {number}"] = [_("Line %(line)d: %(problem)s") % {"line": number, "problem": p}
                                        for p in problems]
    seen: dict[dt.date, HolidayEntry] = {}
    for entry in entries:
        problems = []
        if entry.is_working_day and entry.date.weekday() < 5:
            problems.append(_("%(date)s is a weekday; a make-up working day falls on a Saturday or Sunday.")
                            % {"date": entry.date.isoformat()})
        other = seen.get(entry.date)
        if other is not None and other.is_working_day != entry.is_working_day:
            problems.append(_("%(date)s is also on line %(other)d, the other way round.")
                            % {"date": entry.date.isoformat(), "other": other.line})
        seen.setdefault(entry.date, entry)
        if problems:
            errors.setdefault(f"line {entry.line}", []).extend(
                _("Line %(line)d: %(problem)s") % {"line": entry.line, "problem": p} for p in problems)
    if errors:
        first = next(iter(errors.values()))[0]
        summary = (first if len(errors) == 1 else _("%(first)s (and %(n)d more lines with problems). Nothing was saved.")
                   % {"first": first, "n": len(errors) - 1})
        raise _fail(summary, errors, code="invalid_lines")
    if not entries:
        raise DomainError(_("No dates given."), fields={"lines": [_("Empty.")]}, code="empty")
    return list({e.date: e for e in entries}.values())  # the last line naming a date wins its name


def read_holiday_xlsx(data: bytes) -> list[HolidayEntry]:
    """Columns 日期 (date), 类型 (kind: 休/班), 名称 (name); a header row is skipped."""
    lines, numbers = [], []
    for number, cells in enumerate(open_workbook(data), start=1):
        texts = [cell_text(c) for c in (list(cells) + [None, None, None])[:3]]
        if not any(texts) or (number == 1 and not re.match(r"^\d{4}", texts[0])):
            continue
        lines.append(" ".join(t or "-" if i < 2 else t for i, t in enumerate(texts)).strip())
        numbers.append(number)
    return parse_holiday_lines("\n".join(lines), numbers=numbers)


def holiday_workbook(year: int) -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = str(year)
    sheet.append(["日期 (date)", "类型 (kind: 休 off / 班 make-up work)", "名称 (name)"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    rows = Holiday.objects.filter(date__year=year).order_by("date")
    for h in rows:
        sheet.append([h.date.isoformat(), "班" if h.is_working_day else "休", h.name])
    if not rows:
        sheet.append([f"{year}-01-01", "休", "元旦"])
    for letter, width in zip("ABC", (14, 34, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def year_summary(year: int) -> dict:
    """Working days of ``year`` under the calendar, and how many listed days are off / worked."""
    rows = dict(Holiday.objects.filter(date__year=year).values_list("date", "is_working_day"))
    calendar = WorkCalendar(rows)
    start = dt.date(year, 1, 1) - dt.timedelta(days=1)
    return {"working_days": calendar.working_days_between(start, dt.date(year, 12, 31)),
            "off": sum(not w for w in rows.values()), "made_up": sum(bool(w) for w in rows.values())}
