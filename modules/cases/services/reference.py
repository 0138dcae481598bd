"""The cases module's reference data: categories, the responsibility list, the holiday calendar, and
the district's seed. Every write checks that the actor is a district administrator (the seed alone
writes as the system), runs in one transaction with its audit entry, and saves nothing when any row
is bad."""
from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import DomainError
from kernel.permissions import acting_user as _user
from kernel.permissions import require_admin
from kernel.text import clean_text, text_problem
from modules.cases import selectors
from modules.cases.models import (
    AssignMode,
    Category,
    Holiday,
    ResponsibilityItem,
    ResponsibilityList,
    UnitKind,
)
from modules.cases.services.common import _category, _now
from modules.cases.services.holiday_rows import HOLIDAY_NAME_MAX, HolidayEntry
from modules.cases.services.rlist_rows import check_rlist_rows, item_key

CATEGORY_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _require_admin(actor) -> None:
    require_admin(actor, _("Only district administrators change the settings of cases."))


# --- categories -------------------------------------------------------------------------------------

def save_category(*, actor, code: str, name_zh: str, name_en: str = "", assign_mode: str = AssignMode.DISPATCH,
                  active: bool = True, new: bool | None = None) -> Category:
    """Add (``new=True``), edit (``new=False``) or either (``None``) a category; the code never changes.
    Every bad field is named at once."""
    _require_admin(actor)
    code = (code or "").strip().lower()
    fields: dict[str, list[str]] = {}
    if not CATEGORY_CODE.match(code):
        fields["code"] = [_("Lower-case letters, digits, - and _; at most 40.")]
    elif new is True and Category.objects.filter(code=code).exists():
        fields["code"] = [_("There is already a category %(code)s.") % {"code": code}]
    elif new is False and not Category.objects.filter(code=code).exists():
        fields["code"] = [_("There is no category %(code)s.") % {"code": code}]
    cleaned = {}
    for field, value, required in (("name_zh", name_zh, True), ("name_en", name_en, False)):
        cleaned[field], problem = text_problem(value, max_length=Category._meta.get_field(field).max_length,
                                               required=required, name=True)
        if problem:
            fields[field] = [problem]
    if assign_mode not in AssignMode.values:
        fields["assign_mode"] = [_("Assign mode is dispatch or grab.")]
    if fields:
        first = next(iter(fields))
        raise DomainError(f"{first}: {fields[first][0]}", fields=fields)
    return _write_category(actor=actor, code=code, assign_mode=assign_mode, active=bool(active), **cleaned)


def _write_category(*, actor, code: str, name_zh: str, name_en: str, assign_mode: str, active: bool) -> Category:
    with transaction.atomic():
        category, created = Category.objects.update_or_create(
            code=code, defaults={"name_zh": name_zh, "name_en": name_en, "assign_mode": assign_mode,
                                 "active": active})
        audit.record(actor=actor, action="cases.category.create" if created else "cases.category.update",
                     target=category, after={"code": code, "assign_mode": assign_mode, "active": active})
        selectors.forget_routing()
    return category


# --- the responsibility list ----------------------------------------------------------------------------

def publish_list(*, actor, rows: list[tuple[int, dict]], note: str = "", now=None) -> ResponsibilityList:
    """Rows as the settings table or a spreadsheet give them (``(row number, values)``): every row
    checked (``rlist_rows.check_rlist_rows``), then published as the new current version. Nothing
    when any row is bad, or when the rows are the current list over again."""
    _require_admin(actor)
    note = (note or "").strip()
    if len(note) > 200:
        raise DomainError(_("At most %(n)d characters.") % {"n": 200}, fields={"note": [_("Too long.")]})
    with transaction.atomic():
        items = check_rlist_rows(rows)
        current = ResponsibilityList.objects.filter(is_current=True).first()
        if current is not None:
            now_items = sorted(item_key(i) for i in current.items.select_related("category"))
            if now_items == sorted(item_key(i) for i in items):
                raise DomainError(_("These rows are the current version v%(v)d over again; nothing to publish.")
                                  % {"v": current.version}, fields={"rows": [_("No change.")]}, code="no_change")
        return _publish(actor=actor, items=items, note=note, now=_now(now))


def publish_responsibility_list(*, actor, items: list[dict], note: str = "", now=None) -> ResponsibilityList:
    """A new version of the list, made current. ``items``: dicts with category (code or object),
    area_kind, area_code, unit_kind, unit_code, response_amount/unit, resolution_amount/unit.
    Cases already received keep the version they were judged by."""
    _require_admin(actor)
    return _publish(actor=actor, items=items, note=note, now=_now(now))


def _publish(*, actor, items: list[dict], note: str, now) -> ResponsibilityList:
    if not items:
        raise DomainError(_("A responsibility list needs at least one row."), fields={"items": [_("Empty.")]})
    with transaction.atomic():
        list(ResponsibilityList.objects.select_for_update().values_list("pk", flat=True))
        last = ResponsibilityList.objects.order_by("-version").first()
        before = last.version if last else None
        ResponsibilityList.objects.filter(is_current=True).update(is_current=False)
        rlist = ResponsibilityList.objects.create(version=(before or 0) + 1, is_current=True, published_at=now,
                                                  published_by=_user(actor), note=note[:200])
        rows = []
        for i, raw in enumerate(items):
            row = dict(raw)
            row["category"] = _category(row["category"])
            row.setdefault("area_kind", "district")
            row["area_code"] = "" if row["area_kind"] == "district" else row.get("area_code", "")
            item = ResponsibilityItem(rlist=rlist, **row)
            try:
                item.full_clean(exclude=["rlist"])
            except Exception as exc:
                raise DomainError(_("Row %(i)d of the list is not valid.") % {"i": i + 1},
                                  fields={f"items[{i}]": [str(exc)]}) from exc
            rows.append(item)
        ResponsibilityItem.objects.bulk_create(rows)
        selectors.forget_routing()
        audit.record(actor=actor, action="cases.rlist.publish", target=rlist,
                     before={"version": before}, after={"version": rlist.version, "rows": len(rows)})
    return rlist


# --- holidays -------------------------------------------------------------------------------------------

def set_holiday(*, actor, date: dt.date, is_working_day: bool = False, name: str = "") -> Holiday:
    """List one date as off, or as a make-up working day (a Saturday or Sunday)."""
    _require_admin(actor)
    name = clean_text(name, field="name", max_length=HOLIDAY_NAME_MAX, required=False)
    if is_working_day and date.weekday() < 5:
        raise DomainError(_("%(date)s is a weekday; a make-up working day falls on a Saturday or Sunday.")
                          % {"date": date.isoformat()}, fields={"date": [_("Not a weekend day.")]})
    with transaction.atomic():
        holiday, _created = Holiday.objects.update_or_create(
            date=date, defaults={"is_working_day": is_working_day, "name": name})
        selectors.forget_routing()
        audit.record(actor=actor, action="cases.holiday.set", target=holiday,
                     after={"date": date.isoformat(), "working": is_working_day, "name": name})
    return holiday


def import_holidays(*, actor, entries: list[HolidayEntry]) -> dict:
    """Save checked entries (``holiday_rows.parse_holiday_lines``) in one go (a date already listed takes
    the new kind and name)."""
    _require_admin(actor)
    if not entries:
        raise DomainError(_("No dates given."), fields={"lines": [_("Empty.")]}, code="empty")
    created = updated = 0
    with transaction.atomic():
        for entry in entries:
            _holiday, made = Holiday.objects.update_or_create(
                date=entry.date, defaults={"is_working_day": entry.is_working_day, "name": entry.name})
            created += made
            updated += not made
        selectors.forget_routing()
        dates = sorted(e.date for e in entries)
        audit.record(actor=actor, action="cases.holiday.import", target_type="cases.holiday", target_id="*",
                     after={"created": created, "updated": updated, "first": dates[0].isoformat(),
                            "last": dates[-1].isoformat(), "off": sum(not e.is_working_day for e in entries),
                            "working": sum(e.is_working_day for e in entries)})
    return {"created": created, "updated": updated}


def delete_holiday(*, actor, date: dt.date) -> None:
    """The date follows the ordinary week again (Monday–Friday working)."""
    _require_admin(actor)
    with transaction.atomic():
        holiday = Holiday.objects.select_for_update().filter(date=date).first()
        if holiday is None:
            raise DomainError(_("%(date)s is not in the holiday calendar.") % {"date": date.isoformat()},
                              fields={"date": [_("Not listed.")]}, code="not_found", status=404)
        before = {"date": date.isoformat(), "working": holiday.is_working_day, "name": holiday.name}
        pk = holiday.pk
        holiday.delete()
        selectors.forget_routing()
        audit.record(actor=actor, action="cases.holiday.delete", target_type="cases.holiday", target_id=str(pk),
                     before=before)


# --- the district's seed --------------------------------------------------------------------------------

DEFAULT_CATEGORIES = [
    # code, zh, en, assign mode
    ("corridor_clutter", "楼道堆物", "Corridor clutter", AssignMode.DISPATCH),
    ("pipe_well", "占用管井", "Occupied pipe wells", AssignMode.DISPATCH),
    ("parking", "乱停乱放", "Disorderly parking", AssignMode.GRAB),
    ("facility_damage", "设施损坏", "Damaged facilities", AssignMode.GRAB),
    ("greenery_damage", "毁绿", "Greenery damage", AssignMode.DISPATCH),
    ("noise", "噪音扰民", "Noise", AssignMode.DISPATCH),
    ("merchant_help", "商户诉求", "Merchant help", AssignMode.DISPATCH),
    ("suggestion", "意见建议", "Suggestion", AssignMode.DISPATCH),
    ("praise", "好人好事", "Praise", AssignMode.DISPATCH),
]

# Examples of the 2026 national holidays (check the State Council's notice; edit them in /admin/):
# the National Day week Oct 1–7 off with make-up working days on Sun Sept 27 and Sat Oct 10.
EXAMPLE_HOLIDAYS_2026 = (
    [(dt.date(2026, 1, d), False, "元旦（示例）") for d in (1, 2)]
    + [(dt.date(2026, 5, d), False, "劳动节（示例）") for d in range(1, 6)]
    + [(dt.date(2026, 10, d), False, "国庆节（示例）") for d in range(1, 8)]
    + [(dt.date(2026, 9, 27), True, "国庆调休上班（示例）"), (dt.date(2026, 10, 10), True, "国庆调休上班（示例）")]
)


def seed(*, template: str, actor=None) -> None:
    """Default categories, a first district-wide responsibility list and example holidays: written by
    the system when a district is made (``actor`` is recorded, not checked)."""
    with transaction.atomic():
        if not Category.objects.exists():
            for code, zh, en, mode in DEFAULT_CATEGORIES:
                _write_category(actor=actor, code=code, name_zh=zh, name_en=en, assign_mode=mode, active=True)
        if not ResponsibilityList.objects.exists():
            items = []
            for code, *_rest in DEFAULT_CATEGORIES:
                response = (2, "hours") if code == "merchant_help" else (24, "hours")  # respond on receipt
                resolution = (10, "working_days") if code == "suggestion" else (5, "working_days")
                items.append({"category": code, "area_kind": "district", "unit_kind": UnitKind.GRID_WORKERS,
                              "unit_code": "", "response_amount": response[0], "response_unit": response[1],
                              "resolution_amount": resolution[0], "resolution_unit": resolution[1]})
            _publish(actor=actor, items=items, note="默认权责清单（全区）", now=_now(None))
        if not Holiday.objects.exists():
            Holiday.objects.bulk_create([Holiday(date=d, is_working_day=w, name=n) for d, w, n in EXAMPLE_HOLIDAYS_2026])
            audit.record(actor=actor, action="cases.holiday.seed", target_type="cases.holiday", target_id="*",
                         after={"count": len(EXAMPLE_HOLIDAYS_2026)})
