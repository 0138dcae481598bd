"""The customer's Excel copy of a district: people (users and residents), cases, the points ledger and
ratings, with headers in Chinese. Phone and ID numbers are masked (kernel.personal), never in clear:
the clear values stay in the encrypted schema dump. Runs inside the district's schema.

Written with openpyxl in write-only mode (rows streamed to disk, memory flat whatever the district's
size); kernel.workbooks has the house reader, and this is the one writer of whole-district exports."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from kernel.personal import decrypt, mask_id_number, mask_phone

CHUNK = 2000


def _masked_phone(token: str) -> str:
    if not token:
        return ""
    try:
        return mask_phone(decrypt(token))
    except ValueError:
        return "****"


def _masked_id(token: str) -> str:
    if not token:
        return ""
    try:
        return mask_id_number(decrypt(token))
    except ValueError:
        return "****"


def _when(value) -> object:
    """Datetimes in the district's time, without tzinfo (Excel has none)."""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: Callable[[], Iterator[Iterable]]
    count: Callable[[], int]


def _users() -> Iterator[list]:
    from kernel.models import RoleAssignment

    roles: dict[int, list[str]] = {}
    for user_id, role, kind, code in RoleAssignment.objects.values_list("user_id", "role", "scope_kind", "scope_code"):
        roles.setdefault(user_id, []).append(f"{role}@{kind}:{code}" if code else role)
    qs = get_user_model().objects.order_by("pk").values_list(
        "pk", "username", "display_name", "phone_encrypted", "is_active", "date_joined", "last_login")
    for pk, username, name, phone, active, joined, last in qs.iterator(chunk_size=CHUNK):
        yield [pk, username, name, _masked_phone(phone), "、".join(roles.get(pk, [])), "是" if active else "否",
               _when(joined), _when(last)]


def _residents() -> Iterator[list]:
    from modules.registry.models import Membership, Resident

    homes = {}
    current = (Membership.objects.filter(ended_at__isnull=True).order_by("id")
               .select_related("household__building__compound"))
    for membership in current.iterator(chunk_size=CHUNK):
        homes[membership.resident_id] = membership.household.address
    qs = Resident.objects.order_by("pk").values_list(
        "pk", "name", "gender", "birth_date", "id_number_encrypted", "phone_encrypted", "user_id", "created_at")
    genders = {"m": "男", "f": "女"}
    for pk, name, gender, born, id_token, phone, user_id, created in qs.iterator(chunk_size=CHUNK):
        yield [pk, name, genders.get(gender, ""), born, _masked_id(id_token), _masked_phone(phone),
               homes.get(pk, ""), user_id, _when(created)]


def _cases() -> Iterator[list]:
    from modules.cases.models import Case

    labels = dict(Case.Status.choices)
    channels = dict(Case.Channel.choices)
    qs = Case.objects.order_by("pk").values_list(
        "pk", "ref", "channel", "category__name_zh", "title", "status", "address", "grid__name",
        "community__name", "submitted_at", "resolved_at", "closed_at", "rating", "reporter_id")
    for (pk, ref, channel, category, title, status, address, grid, community, submitted, resolved, closed,
         rating, reporter) in qs.iterator(chunk_size=CHUNK):
        yield [pk, ref, str(channels.get(channel, channel)), category, title, str(labels.get(status, status)),
               address, grid or "", community or "", _when(submitted), _when(resolved), _when(closed), rating,
               reporter]


def _entries() -> Iterator[list]:
    from modules.points.models import Entry

    qs = Entry.objects.order_by("pk").values_list(
        "pk", "resident_id", "resident__name", "rule__code", "rule_version__name_zh", "kind", "points",
        "occurred_on", "reason", "source_kind", "source_id", "posted_at", "reverses_id")
    for row in qs.iterator(chunk_size=CHUNK):
        *head, posted_at, reverses = row
        yield [*head, _when(posted_at), reverses]


def _balances() -> Iterator[list]:
    from modules.points.models import Balance

    qs = Balance.objects.order_by("resident_id", "kind").values_list(
        "resident_id", "resident__name", "kind", "points", "entries", "updated_at")
    for *head, updated in qs.iterator(chunk_size=CHUNK):
        yield [*head, _when(updated)]


def _ratings() -> Iterator[list]:
    """The residents' ratings of handled cases (1–5). Other rating tables join here when they exist."""
    from modules.cases.models import Case

    qs = Case.objects.filter(rating__isnull=False).order_by("pk").values_list(
        "ref", "category__name_zh", "title", "rating", "closed_at", "assignee__username", "grid__name")
    for ref, category, title, rating, closed, assignee, grid in qs.iterator(chunk_size=CHUNK):
        yield [ref, category, title, rating, _when(closed), assignee or "", grid or ""]


def sheets() -> list[Sheet]:
    from modules.cases.models import Case
    from modules.points.models import Balance, Entry
    from modules.registry.models import Resident

    User = get_user_model()
    return [
        Sheet("用户", ["编号", "用户名", "显示名", "手机号（已脱敏）", "角色", "启用", "注册时间", "最近登录"],
              _users, User.objects.count),
        Sheet("居民", ["编号", "姓名", "性别", "出生日期", "身份证号（已脱敏）", "手机号（已脱敏）", "住址", "用户编号",
                     "登记时间"], _residents, Resident.objects.count),
        Sheet("案件", ["编号", "案件号", "渠道", "类别", "标题", "状态", "地点", "网格", "社区", "提交时间", "办结时间",
                     "关闭时间", "评价（1–5）", "报告人用户编号"], _cases, Case.objects.count),
        Sheet("积分流水", ["流水号", "居民编号", "居民姓名", "规则代码", "规则名称", "积分类型", "分值", "发生日期", "事由",
                       "来源", "来源编号", "记账时间", "冲正流水号"], _entries, Entry.objects.count),
        Sheet("积分余额", ["居民编号", "居民姓名", "积分类型", "余额", "笔数", "更新时间"], _balances, Balance.objects.count),
        Sheet("评价", ["案件号", "类别", "标题", "评分（1–5）", "关闭时间", "处理人", "网格"], _ratings,
              Case.objects.filter(rating__isnull=False).count),
    ]


def write(out: Path, *, title: str, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the workbook to ``out``; returns {sheet: rows written}."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    book.properties.title = title
    book.properties.creator = "码上 Mashang"
    written = {}
    for sheet in sheets():
        if progress:
            progress(sheet.title)
        ws = book.create_sheet(sheet.title)
        bold = []
        for text in sheet.headers:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = Font(bold=True)
            bold.append(cell)
        ws.append(bold)
        n = 0
        for row in sheet.rows():
            ws.append(list(row))
            n += 1
        written[sheet.title] = n
    book.save(out)
    return written
