"""The columns of a community ledger: what each is called in the wild (headers as offices type them),
and the relation to the head of the household."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from modules.registry.models import Membership

# --- columns --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    required: bool = False


COLUMNS = (
    Column("street", "街道", "street", ("街道", "街道办", "街道办事处", "街道名称", "所属街道", "街办", "street")),
    Column("community", "社区", "community",
           ("社区", "社区名称", "所属社区", "社区居委会", "居委会", "community")),
    Column("grid", "网格", "grid", ("网格", "网格名称", "网格编号", "所属网格", "网格号", "grid")),
    Column("compound", "小区", "compound",
           ("小区", "小区名称", "小区名", "所在小区", "所属小区", "compound", "estate"), required=True),
    Column("building", "楼栋", "building",
           ("楼栋", "楼栋号", "楼号", "楼栋名称", "栋", "栋号", "幢", "楼", "building"), required=True),
    Column("unit", "单元", "unit", ("单元", "单元号", "unit")),
    Column("room", "房号", "room", ("房号", "房间号", "门牌号", "室", "户号", "房屋号", "room", "flat"), required=True),
    Column("name", "姓名", "name", ("姓名", "名字", "居民姓名", "name", "fullname"), required=True),
    Column("id_number", "身份证号", "ID number",
           ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "证件号码", "证件号", "身份证",
            "idnumber", "idno", "idcard"), required=True),
    Column("phone", "联系电话", "phone",
           ("联系电话", "电话", "电话号码", "手机", "手机号", "手机号码", "联系方式", "phone", "mobile", "tel",
            "telephone")),
    Column("relation", "与户主关系", "relation to the head",
           ("与户主关系", "与户主的关系", "关系", "户主关系", "家庭关系", "relation", "relationship")),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[(\[][^)\]]*[)\]]", "", text)  # 身份证号(18位) -> 身份证号
    return re.sub(r"[\s*:_\-./]", "", text)


ALIASES = {_header_key(alias): c.field for c in COLUMNS for alias in c.aliases}

HEAD_WORDS = {"户主", "本人", "户主本人", "head", "self", "householdhead"}
TENANT_WORDS = {"租户", "租客", "承租人", "租住", "租房", "tenant", "renter"}


def parse_relation(text: str) -> str:
    key = _header_key(text)
    if key in HEAD_WORDS:
        return Membership.Relation.HEAD
    if key in TENANT_WORDS:
        return Membership.Relation.TENANT
    return Membership.Relation.MEMBER  # 配偶, 子, 长女, 孙子, 儿媳… are all members of the household
