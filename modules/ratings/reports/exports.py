"""Excel of a ranking: the same rows as the page and the API (``selectors.ranking``), with a sheet that
says what they are (period, unit, dimension, the minimum count, when made).

kernel/workbooks.py has the one reader but no writer yet; this writes with openpyxl as the other
exports do (cases.figures, registry.ledger.export)."""
from __future__ import annotations

import datetime as dt
import io

from django.utils import timezone

from modules.ratings.reports.selectors import Ranking, add_months

COLUMNS = (  # (zh, en) headers; the sheet has both, whatever the reader's language
    ("名次", "Rank"), ("名称", "Name"), ("所属", "Belongs to"), ("评价数", "Ratings"), ("平均分", "Average"),
    ("差评数", "Bad"), ("差评占比", "Bad share"), ("说明", "Note"))


def ranking_rows(ranking: Ranking) -> list[list]:
    out = []
    for r in ranking.rows:
        note = "" if r.rank is not None else "评价数不足，暂不排名 (too few ratings to rank)"
        out.append([r.rank, r.name, r.detail, r.n, float(r.average) if r.average is not None else None, r.bad,
                    float(r.bad_share) if r.bad_share is not None else None, note])
    return out


def ranking_workbook(ranking: Ranking, *, unit_label: str, dimension_label: str, channel_label: str = "") -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "排名 (ranking)"
    sheet.append([f"{zh} ({en})" for zh, en in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in ranking_rows(ranking):
        sheet.append(row)
    for (cell,) in sheet.iter_rows(min_row=2, min_col=5, max_col=5):
        cell.number_format = "0.00"
    for (cell,) in sheet.iter_rows(min_row=2, min_col=7, max_col=7):
        cell.number_format = "0.0%"
    sheet.freeze_panes = "C2"
    for letter, width in zip("ABCDEFGH", (8, 24, 20, 10, 10, 10, 12, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    about = book.create_sheet("说明 (about)")
    last_day = add_months(ranking.end, 1) - dt.timedelta(days=1)
    for row in (
        ["好差评排名 (ratings ranking)"],
        ["对象 (unit)", unit_label],
        ["分项 (dimension)", dimension_label],
        ["渠道 (channel)", channel_label or "全部 (all)"],
        ["期间 (period)", ranking.start.isoformat(), last_day.isoformat()],
        ["参与排名的最少评价数 (fewest ratings to be ranked)", ranking.min_ratings],
        ["只计入有效评价：待复核、不计入、申诉撤销和被改评的不计 (counted ratings only: held, rejected, removed on appeal "
         "and replaced ones are left out)"],
        ["生成时间 (made at)", timezone.localtime().strftime("%Y-%m-%d %H:%M")],
    ):
        about.append(row)
    about.column_dimensions["A"].width = 40
    about.column_dimensions["B"].width = 24
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_name(ranking: Ranking, unit: str) -> str:
    return f"ratings-ranking-{unit}-{ranking.start:%Y%m}-{ranking.end:%Y%m}.xlsx"

