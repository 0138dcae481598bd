"""The registry's demo (``SPEC.demo``): the place tree of each demo district with households and
residents whose ID numbers are valid for the district's own region, departments and officials, shops
and stalls; the kinds of ledger mistakes the data audit finds; and the demo resident 张三 linked to the
``resident`` account.

``rng_seed`` names the demo district whose places these are (``kangbashi``, ``dongsheng``, ``laixi``)
and seeds the random choices; a district of another name gets no places. Idempotent: a district that
has streets gets none added; 张三 is registered once."""
from __future__ import annotations

import random

from django.contrib.auth import get_user_model
from django.db import transaction

# Places per district: (region code of its ID numbers, [(street code, street name, [(community code,
# name, [grid names], [compound names])])]). The first street/community/grids carry the codes the
# console's demo people are scoped to (S01, C01, G0101, G0102).
PLACES = {
    "kangbashi": ("150603", [
        ("S01", "青春山街道", [("C01", "康和社区", ["康和一网格", "康和二网格"], ["康和小区", "康城花园"]),
                              ("C02", "康泽社区", ["康泽一网格"], ["康泽苑"])]),
        ("S02", "滨河街道", [("C03", "康馨社区", ["康馨一网格", "康馨二网格"], ["康馨雅苑", "滨河湾"])]),
    ]),
    "dongsheng": ("150602", [
        ("S01", "富兴街道", [("C01", "富兴社区", ["富兴一网格", "富兴二网格"], ["富兴小区", "东方花园"]),
                            ("C02", "林荫社区", ["林荫一网格"], ["林荫小区"])]),
        ("S02", "交通街道", [("C03", "民族社区", ["民族一网格"], ["民族家园"])]),
    ]),
    "laixi": ("370285", [
        ("S01", "水集街道", [("C01", "石岛社区", ["石岛一网格", "石岛二网格"], ["石岛新村", "月湖花园"]),
                            ("C02", "烟台路社区", ["烟台路网格"], ["烟台路小区"])]),
        ("S02", "望城街道", [("C03", "望城社区", ["望城一网格"], ["望城家园"])]),
    ]),
}
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英",
         "桂英", "建华", "志强", "海燕", "玉兰", "春梅", "建国", "晓东", "雪梅", "婷婷", "浩然", "子涵", "欣怡", "宇轩"]
DEPARTMENTS = [("civil-affairs", "民政局", False), ("urban-mgmt", "城市管理综合执法局", True),
               ("housing", "住房和城乡建设局", True), ("market", "市场监督管理局", True), ("police", "公安分局", False)]
SHOPS = ["郑记面馆", "康康便利店", "老北京布鞋", "鑫源五金", "好再来饭店", "阳光药房", "蒙古包奶茶馆", "福满多超市"]
STALLS = [("烤红薯摊", "夜市一区 3 号位", "17:00–22:00"), ("水果流动摊", "滨河路早市 12 号位", "06:00–09:00")]


def seed_demo(*, district, admin, rng_seed: str) -> None:
    """The hook: places, people and ledger problems (then a data audit), and the demo resident."""
    if rng_seed not in PLACES:
        return
    region = PLACES[rng_seed][0]
    seed_places(admin=admin, rng_seed=rng_seed)
    link_demo_resident(admin=admin, region=region)


def _id_number(first17: str) -> str:
    from stdnum.cn import ric

    return first17 + ric.calc_check_digit(first17 + "0")


def seed_places(*, admin, rng_seed: str) -> int:
    """Streets, communities, grids, compounds, buildings, households and residents; departments,
    officials, shops and stalls; then the ledger problems and a data audit. Returns the residents made."""
    from modules.registry import services as reg
    from modules.registry.models import Grid, Street

    if Street.objects.exists():
        return 0
    User = get_user_model()
    rng = random.Random(rng_seed)
    region, streets = PLACES[rng_seed]
    people = 0
    seq = 0
    with transaction.atomic():
        departments = {code: reg.create_department(actor=admin, code=code, name=name, is_sector=sector)
                       for code, name, sector in DEPARTMENTS}
        grid_no = 0
        for s_code, s_name, communities in streets:
            street = reg.create_street(actor=admin, code=s_code, name=s_name)
            for c_code, c_name, grid_names, compound_names in communities:
                community = reg.create_community(actor=admin, code=c_code, name=c_name, street=street,
                                                 police_contact=f"社区民警 {rng.choice(SURNAMES)}警官 0477-83{rng.randint(10000, 99999)}")
                for g_index, g_name in enumerate(grid_names, start=1):
                    grid_no += 1
                    code = f"G{c_code[1:]}{g_index:02d}"
                    owner = User.objects.filter(username="grid").first() if code == "G0101" else None
                    grid = reg.create_grid(actor=admin, code=code, name=g_name, community=community, worker=owner,
                                           duty_phone=f"0477-851{grid_no:04d}")  # the grid's duty number
                    for x, compound_name in enumerate(compound_names[g_index - 1:g_index] or compound_names[:1]):
                        compound = reg.create_compound(
                            actor=admin, code=f"X{grid_no:02d}{x}", name=compound_name, grid=grid,
                            property_company=f"{compound_name[:2]}物业", property_contact=f"物业管家 139{rng.randint(10000000, 99999999)}")
                        for b in range(1, 4):
                            building = reg.create_building(actor=admin, compound=compound, number=str(b))
                            for unit in ("1", "2"):
                                for floor in range(1, 4):
                                    household = reg.create_household(actor=admin, building=building, unit=unit,
                                                                      room=f"{floor}01",
                                                                      registered_size=rng.choice([3, 4, 5]))
                                    for member in range(rng.randint(1, 4)):
                                        seq += 1
                                        born = f"{rng.randint(1945, 2012)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                                        reg.register_resident(
                                            actor=admin, name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                                            id_number=_id_number(f"{region}{born}{seq % 1000:03d}"),
                                            phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                                            household=household, relation="head" if member == 0 else "member")
                                        people += 1
        for code, dept in departments.items():
            for post in ("科长", "科员"):
                reg.create_official(actor=admin, name=rng.choice(SURNAMES) + rng.choice(GIVEN), department=dept,
                                    post=post, user=User.objects.filter(username="official").first()
                                    if code == "civil-affairs" and post == "科长" else None)
        grids = list(Grid.objects.all())
        for i, name in enumerate(SHOPS):
            reg.create_merchant(actor=admin, name=name, grid=grids[i % len(grids)], address=f"{grids[i % len(grids)].community.name}商业街 {i + 1} 号",
                                license_number=f"92150{rng.randint(1000000000, 9999999999)}",
                                owner=User.objects.filter(username="merchant").first() if i == 0 else None)
        for name, place, hours in STALLS:
            reg.create_merchant(actor=admin, name=name, kind="stall", grid=grids[0], licensed_place=place,
                                licensed_hours=hours)
        seed_ledger_problems(admin=admin, region=region)
    from modules.registry.datachecks import start_audit

    start_audit(actor=admin, background=False)  # the audit page shows real findings from day one
    return people


def seed_ledger_problems(*, admin, region: str) -> None:
    """The kinds of mistakes the Xixia audit found in real ledgers, so the data audit has work."""
    from modules.registry import services as reg
    from modules.registry.models import Household, Resident

    first, second = Household.objects.order_by("id")[:2]
    moved = Resident.objects.filter(memberships__household=second).first()
    reg.bind_resident(actor=admin, resident=moved, household=first)  # still on the old household too
    crowded = Household.objects.filter(registered_size=3).order_by("-id").first()
    for i in range(4):
        reg.register_resident(actor=admin, name=f"租客{i + 1}", id_number=_id_number(f"{region}199{i}0303{800 + i}"),
                              household=crowded, relation="tenant")
    reg.register_resident(actor=admin, name="刘建华", id_number=_id_number(f"{region}19700512901"))  # no household
    twin = Resident.objects.filter(memberships__isnull=False).order_by("id")[5]
    reg.register_resident(actor=admin, name=twin.name,  # the same person typed with a wrong sequence number
                          id_number=_id_number(f"{region}{twin.birth_date:%Y%m%d}902"), household=second)


def link_demo_resident(*, admin, region: str) -> None:
    """The demo resident 张三 is registered at the first household and linked to the ``resident``
    account (made by the console with the demo people), with that account's phone. Once."""
    from modules.registry import services as reg
    from modules.registry.models import Household, Resident

    user = get_user_model().objects.filter(username="resident").first()
    household = Household.objects.order_by("id").first()
    if user is None or household is None or Resident.objects.filter(user=user).exists():
        return
    resident = reg.register_resident(actor=admin, name="张三", id_number=_id_number(f"{region}19850615999"),
                                     phone=user.phone, household=household, relation="member")
    reg.link_account(actor=admin, resident=resident, user=user)
