"""The one spreadsheet reader (kernel.workbooks) and the one name mask (kernel.personal.mask_name).

The same table saved as CSV in GB18030 (Excel / WPS on Chinese Windows), as CSV UTF-8 with Excel's BOM
and without it, and as an .xlsx workbook whose date is a date cell and whose yes/no is a boolean cell
or the text 是/否, reads the same through ``open_spreadsheet`` and the cell cleaner."""
import datetime as dt
import io

import openpyxl
import pytest

from kernel.errors import DomainError
from kernel.personal import mask_name
from kernel.workbooks import CSV, XLSX, cell_bool, cell_date, cell_text, open_spreadsheet

ROWS = [["姓名", "出生日期", "是否户主", "身份证号"],
        ["张三明", "1980-01-02", "是", "150602198001021234"],
        ["欧阳娜娜", "2001/3/4", "否", "15060220010304123X"]]
EXPECTED = [("张三明", dt.date(1980, 1, 2), True, "150602198001021234"),
            ("欧阳娜娜", dt.date(2001, 3, 4), False, "15060220010304123X")]


def csv_bytes(encoding: str) -> bytes:
    return ("\r\n".join(",".join(row) for row in ROWS) + "\r\n").encode(encoding)


def xlsx_bytes(*, booleans_as_text: bool) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(ROWS[0])
    for name, born, head, number in EXPECTED:
        yes_no = ("是" if head else "否") if booleans_as_text else head
        sheet.append([name, dt.datetime.combine(born, dt.time()), yes_no, number])
    sheet["B2"].number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read(data: bytes, name: str) -> list[tuple]:
    rows = list(open_spreadsheet(data, name).rows())
    assert [cell_text(c) for c in rows[0]] == ROWS[0]
    return [(cell_text(n), cell_date(b), cell_bool(h), cell_text(i)) for n, b, h, i in rows[1:]]


@pytest.mark.parametrize("data,name,fmt", [
    (csv_bytes("gb18030"), "台账.csv", CSV),
    (csv_bytes("utf-8-sig"), "台账.csv", CSV),
    (csv_bytes("utf-8"), "台账.csv", CSV),
    (csv_bytes("utf-16"), "台账.txt", CSV),
    (xlsx_bytes(booleans_as_text=False), "台账.xlsx", XLSX),
    (xlsx_bytes(booleans_as_text=True), "台账.xlsx", XLSX),
], ids=["gb18030", "utf-8-bom", "utf-8", "utf-16", "xlsx-bool-cells", "xlsx-yes-no-text"])
def test_one_table_reads_the_same_from_every_kind_of_file(data, name, fmt):
    assert open_spreadsheet(data, name).fmt == fmt
    assert read(data, name) == EXPECTED


def test_the_bom_is_not_part_of_the_first_header():
    first = list(open_spreadsheet(csv_bytes("utf-8-sig"), "a.csv").rows())[0][0]
    assert first == "姓名"


def test_cells_are_cleaned_one_way():
    assert cell_text(None) == "" and cell_text("  张三 ") == "张三"
    assert cell_text(150602.0) == "150602" and cell_text(1.5) == "1.5"
    assert cell_text(dt.datetime(2027, 1, 1)) == "2027-01-01"
    assert cell_text(True) == "是" and cell_text(False) == "否"
    assert cell_date("2027年1月2日") == cell_date("2027/1/2") == cell_date("2027-01-02") == dt.date(2027, 1, 2)
    assert cell_date("") is None and cell_bool("") is None
    assert cell_bool("TRUE") is True and cell_bool("√") is True and cell_bool(0) is False
    with pytest.raises(ValueError):
        cell_date("明天")
    with pytest.raises(ValueError):
        cell_bool("也许")


@pytest.mark.parametrize("data,name,code", [
    (b"", "a.csv", "empty_file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old.xls", "unsupported_file"),
    (b"%PDF-1.4", "scan.pdf", "unsupported_file"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx", "unreadable_file"),
    (bytes(range(128, 256)) * 4, "binary.csv", "unreadable_file"),
    (b"\xff\xfe\x00", "odd.csv", "unreadable_file"),
])
def test_a_file_that_cannot_be_read_says_why(data, name, code):
    with pytest.raises(DomainError) as refused:
        open_spreadsheet(data, name)
    assert refused.value.code == code and refused.value.fields["file"]


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    with pytest.raises(DomainError) as refused:
        open_spreadsheet(csv_bytes("utf-8"), "a.csv", max_bytes=10)
    assert refused.value.code == "file_too_large"


@pytest.mark.parametrize("name,masked", [
    ("李", "李"),  # one character: nothing to hide behind the surname
    ("张三", "张*"),
    ("张三明", "张*明"),
    ("欧阳娜娜", "欧**娜"),
])
def test_one_name_mask_for_names_of_one_to_four_characters(name, masked):
    assert mask_name(name) == masked


def test_the_ledger_masks_names_with_the_kernel_rule():
    from modules.registry.ledger import checking

    assert checking.mask_name is mask_name
