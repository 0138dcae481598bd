"""What is wrong with a ledger row, in plain words (Chinese and English), and the short labels of a
report's summary."""
from __future__ import annotations

from collections.abc import Iterable

from modules.registry.ledger.columns import COLUMN_BY_FIELD

# --- problems, in plain words ------------------------------------------------------------------------

PROBLEMS: dict[str, tuple[str, str]] = {
    "missing_field": ("{column}为空，请填写", "{column_en} is empty: fill it in"),
    "name_too_long": ("姓名太长（最多40个字）", "The name is too long (40 characters at most)"),
    "name_invalid": ("姓名须是文字：不能只有数字或符号，也不能含控制字符或乱码",
                     "A name must be text: not only digits or punctuation, no control characters or broken text"),
    "id_length": ("身份证号应为18位", "An ID number has 18 characters"),
    "id_format": ("身份证号应为17位数字加最后一位数字或X", "An ID number is 17 digits and a final digit or X"),
    "id_component": ("身份证号中的出生日期或地区代码不存在",
                     "The birth date or region in this ID number does not exist"),
    "id_checksum": ("身份证号最后一位校验码不对，可能有数字输错",
                    "The last character of this ID number does not match (checksum): a digit is probably mistyped"),
    "id_as_number": ("身份证号被Excel存成了数字，后几位已丢失；请把该列设为文本后重新输入",
                     "Excel stored the ID number as a number and lost its last digits: "
                     "format the column as text and type it again"),
    "phone_invalid": ("联系电话不是有效的号码", "The phone number is not a valid number"),
    "unknown_street": ("没有名为“{value}”的街道", "There is no street “{value}”"),
    "unknown_community": ("没有名为“{value}”的社区", "There is no community “{value}”"),
    "unknown_grid": ("没有名为“{value}”的网格", "There is no grid “{value}”"),
    "unknown_compound": ("没有名为“{value}”的小区（小区须先由区管理员添加）",
                         "There is no compound “{value}” (the district administrator adds places first)"),
    "ambiguous_compound": ("有多个名为“{value}”的小区，请填写社区",
                           "Several compounds are named “{value}”: fill in the community"),
    "unknown_building": ("小区“{compound}”没有楼栋“{value}”", "Compound “{compound}” has no building “{value}”"),
    "place_mismatch": ("{place}属于{kind_zh}“{actual}”，不是“{value}”", "{place} is in {kind_en} “{actual}”, not “{value}”"),
    "outside_scope": ("该楼栋不在您负责的范围内", "This building is outside your area"),
    "duplicate_in_file": ("与第{other}行是同一人、同一户，重复", "The same person at the same household as on line {other}"),
    "two_households_in_file": ("同一人在本文件中登记在不同的户（第{others}行）",
                               "The same person is at different households in this file (lines {others})"),
    "two_heads_in_file": ("本户在第{other}行已有户主", "This household already has a head on line {other}"),
    "registered_elsewhere": ("此人已登记在另一户（{community}）",
                             "This person is already registered at another household ({community})"),
    "id_other_name": ("此身份证号已登记在另一姓名下（{name}）",
                      "This ID number is registered under another name ({name})"),
    "head_exists": ("本户已有户主（{name}）", "This household already has a head ({name})"),
}


# Short names of the problems, for a report's summary (code -> zh, en).
PROBLEM_LABELS: dict[str, tuple[str, str]] = {
    "missing_field": ("必填项为空", "required field empty"),
    "name_too_long": ("姓名太长", "name too long"),
    "name_invalid": ("姓名无效", "invalid name"),
    "id_length": ("身份证号位数不对", "ID number: wrong length"),
    "id_format": ("身份证号格式不对", "ID number: wrong format"),
    "id_component": ("身份证号的出生日期或地区不存在", "ID number: no such birth date or region"),
    "id_checksum": ("身份证号校验位不对", "ID number: checksum does not match"),
    "id_as_number": ("身份证号被存成了数字", "ID number stored as a number"),
    "phone_invalid": ("联系电话无效", "invalid phone number"),
    "unknown_street": ("街道不存在", "unknown street"),
    "unknown_community": ("社区不存在", "unknown community"),
    "unknown_grid": ("网格不存在", "unknown grid"),
    "unknown_compound": ("小区不存在", "unknown compound"),
    "ambiguous_compound": ("小区重名，需填社区", "compound name used twice: give the community"),
    "unknown_building": ("楼栋不存在", "unknown building"),
    "place_mismatch": ("街道/社区/网格与小区对不上", "street, community or grid does not match"),
    "outside_scope": ("不在您负责的范围内", "outside your area"),
    "duplicate_in_file": ("文件内重复的行", "row repeated in the file"),
    "two_households_in_file": ("文件内同一人在不同的户", "same person at two households in the file"),
    "two_heads_in_file": ("文件内一户有两个户主", "two heads of one household in the file"),
    "registered_elsewhere": ("已登记在另一户", "already registered at another household"),
    "id_other_name": ("身份证号已登记在另一姓名下", "ID number registered under another name"),
    "head_exists": ("本户已有户主", "the household already has a head"),
}


def problem(code: str, field: str, column: str = "", **params) -> dict:
    zh, en = PROBLEMS[code]
    column_def = COLUMN_BY_FIELD.get(field)
    params.setdefault("column", column or (column_def.zh if column_def else field))
    params.setdefault("column_en", column_def.en if column_def else field)
    return {"field": field, "column": column or params["column"], "code": code,
            "zh": zh.format(**params), "en": en.format(**params)}


def reason_text(problems: Iterable[dict]) -> str:
    return "；".join(f"{p['zh']} / {p['en']}" for p in problems)


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""
