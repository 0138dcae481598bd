"""The three demo districts of `make run`: Kangbashi (all modules, the report's rules), Dongsheng
and Laixi, each with its own module set, rules and branding, and demo people for every role."""
from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from accounts.services import create_user
from kernel.roles import Role, ScopeKind
from kernel.services import assign_role, update_module_config
from modules.notices.services import publish_notice
from tenants.models import District, Domain
from tenants.services import AdminSpec, Branding, create_district, update_branding

DEMO_PASSWORD = "mashang-demo"

DISTRICTS = [
    {
        "slug": "kangbashi", "name_zh": "康巴什区", "name_en": "Kangbashi",
        "branding": Branding(title_zh="多多评·码上生活", title_en="Duoduoping · Life on a Code",
                             primary_color="#c62828", accent_color="#fbc02d"),
        "modules": ["registry", "codes", "cases", "points", "ratings", "participation", "notices"],
        "letter": "K",
        "config": {
            "points": {"material_points": True, "sms_on_award": True, "committee_quorum": 3, "tiers": [
                {"key": "civil", "name_zh": "文明居民", "name_en": "Civil resident", "min_points": 50},
                {"key": "good", "name_zh": "身边好人", "name_en": "Good neighbour", "min_points": 200},
                {"key": "model", "name_zh": "道德模范", "name_en": "Moral model", "min_points": 500},
            ]},
            "cases": {"response_hours": 2, "resolution_days": 3, "grab_cap_per_worker": 5, "auto_close_days": 7,
                      "anonymous_reports": True, "max_video_mb": 30},
        },
        "notices": [
            ("康巴什区品德积分管理办法发布", "policy",
             "品德积分分为加分项和减分项，加分项 51 项、减分项 33 项。居民可在“我的积分”中查看每一笔积分的来由。"),
            ("“码上解决”随手拍上线", "news", "发现身边的问题，拍照上报，网格员接诉即办，办理结果全程可查。"),
        ],
    },
    {
        "slug": "dongsheng", "name_zh": "东胜区", "name_en": "Dongsheng",
        "branding": Branding(title_zh="东胜·码上办", title_en="Dongsheng on a Code",
                             primary_color="#1565c0", accent_color="#ffb300"),
        "modules": ["registry", "codes", "cases", "ratings", "notices"],
        "letter": "D",
        "config": {
            "cases": {"response_hours": 4, "resolution_days": 5, "grab_cap_per_worker": 3, "auto_close_days": 5,
                      "anonymous_reports": False, "max_video_mb": 20},
            "ratings": {"follow_up_hours": 24, "one_rating_per_days": 7},
        },
        "notices": [("东胜区“好差评”服务上线", "news", "扫描干部码、商户码即可评价，差评件 24 小时内回访。")],
    },
    {
        "slug": "laixi", "name_zh": "莱西市", "name_en": "Laixi",
        "branding": Branding(title_zh="莱西·码上生活", title_en="Laixi Life on a Code",
                             primary_color="#2e7d32", accent_color="#ff7043"),
        "modules": ["registry", "codes", "points", "participation", "notices"],
        "letter": "L",
        "config": {
            "points": {"material_points": False, "sms_on_award": False, "committee_quorum": 2, "tiers": [
                {"key": "star1", "name_zh": "一星家庭", "name_en": "One-star family", "min_points": 60},
                {"key": "star3", "name_zh": "三星家庭", "name_en": "Three-star family", "min_points": 180},
                {"key": "star5", "name_zh": "五星家庭", "name_en": "Five-star family", "min_points": 300},
            ]},
            "notices": {"categories": ["policy", "news", "volunteer"], "max_pinned": 2},
        },
        "notices": [("莱西市志愿服务积分兑换说明", "volunteer", "参加志愿服务可获得积分，积分可在合作商户兑换服务。")],
    },
]

# username, display name, role, scope kind, scope code
PEOPLE = [
    ("staff", "社区工作人员 王芳", Role.COMMUNITY_STAFF, ScopeKind.COMMUNITY, "C01"),
    ("grid", "专职网格员 李强", Role.GRID_WORKER, ScopeKind.GRID, "G0101"),
    ("parttime", "兼职网格员 赵敏", Role.GRID_WORKER_PART_TIME, ScopeKind.GRID, "G0102"),
    ("sector", "行业网格员 孙磊", Role.GRID_WORKER_SECTOR, ScopeKind.DEPARTMENT, "urban-mgmt"),
    ("mediator", "人民调解员 周红", Role.MEDIATOR, ScopeKind.STREET, "S01"),
    ("committee", "积分审查委员 吴刚", Role.COMMITTEE_MEMBER, ScopeKind.DISTRICT, ""),
    ("committee2", "积分审查委员 陈静", Role.COMMITTEE_MEMBER, ScopeKind.DISTRICT, ""),
    ("committee3", "积分审查委员 刘洋", Role.COMMITTEE_MEMBER, ScopeKind.DISTRICT, ""),
    ("merchant", "商户 郑记面馆", Role.MERCHANT, ScopeKind.DISTRICT, ""),
    ("official", "干部 钱进", Role.OFFICIAL, ScopeKind.DEPARTMENT, "civil-affairs"),
]
RESIDENT_PHONES = {"kangbashi": "13800000001", "dongsheng": "13800000002", "laixi": "13800000003"}

# Places per district: (street code, street name, [(community code, name, [grid names], [compound names])]).
# The first street/community/grids carry the codes the demo people are scoped to (S01, C01, G0101, G0102).
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


def logo_png(letter: str, color: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    size = 256
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 8, size - 8, size - 8), fill=color)
    font = ImageFont.load_default(size=150)
    draw.text((size / 2, size / 2), letter, fill="white", font=font, anchor="mm")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def ensure_platform_staff() -> list[tuple[str, str]]:
    connection.set_schema_to_public()
    User = get_user_model()
    made = []
    for username, name in (("ops", "平台运维"), ("vendor", "开通服务商")):
        if not User.objects.filter(username=username).exists():
            with transaction.atomic():
                create_user(actor=None, username=username, password=DEMO_PASSWORD, display_name=name,
                            is_staff=True, is_superuser=username == "ops")
        made.append((username, DEMO_PASSWORD))
    return made


def seed_registry(district: District, admin, places_key: str) -> int:
    """Streets, communities, grids, compounds, buildings, households and residents with valid ID
    numbers of the district's own region; departments, officials, shops and stalls. Idempotent."""
    import random

    from stdnum.cn import ric

    from modules.registry import services as reg
    from modules.registry.models import Street

    if Street.objects.exists() or places_key not in PLACES:
        return 0
    User = get_user_model()
    rng = random.Random(district.slug)
    region, streets = PLACES[places_key]
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
                                        first17 = f"{region}{born}{seq % 1000:03d}"
                                        reg.register_resident(
                                            actor=admin, name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                                            id_number=first17 + ric.calc_check_digit(first17 + "0"),
                                            phone=f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                                            household=household, relation="head" if member == 0 else "member")
                                        people += 1
        for code, dept in departments.items():
            for post in ("科长", "科员"):
                reg.create_official(actor=admin, name=rng.choice(SURNAMES) + rng.choice(GIVEN), department=dept,
                                    post=post, user=User.objects.filter(username="official").first()
                                    if code == "civil-affairs" and post == "科长" else None)
        from modules.registry.models import Grid

        grids = list(Grid.objects.all())
        for i, name in enumerate(SHOPS):
            reg.create_merchant(actor=admin, name=name, grid=grids[i % len(grids)], address=f"{grids[i % len(grids)].community.name}商业街 {i + 1} 号",
                                license_number=f"92150{rng.randint(1000000000, 9999999999)}",
                                owner=User.objects.filter(username="merchant").first() if i == 0 else None)
        for name, place, hours in STALLS:
            reg.create_merchant(actor=admin, name=name, kind="stall", grid=grids[0], licensed_place=place,
                                licensed_hours=hours)
        seed_ledger_problems(admin, region)
    from modules.registry.audit import start_audit

    start_audit(actor=admin, background=False)  # the audit page shows real findings from day one
    return people


def seed_ledger_problems(admin, region: str) -> None:
    """The kinds of mistakes the Xixia audit found in real ledgers, so the data audit has work."""
    from stdnum.cn import ric

    from modules.registry import services as reg
    from modules.registry.models import Household, Resident

    def number(body: str) -> str:
        return body + ric.calc_check_digit(body + "0")

    first, second = Household.objects.order_by("id")[:2]
    moved = Resident.objects.filter(memberships__household=second).first()
    reg.bind_resident(actor=admin, resident=moved, household=first)  # still on the old household too
    crowded = Household.objects.filter(registered_size=3).order_by("-id").first()
    for i in range(4):
        reg.register_resident(actor=admin, name=f"租客{i + 1}", id_number=number(f"{region}199{i}0303{800 + i}"),
                              household=crowded, relation="tenant")
    reg.register_resident(actor=admin, name="刘建华", id_number=number(f"{region}19700512901"))  # no household
    twin = Resident.objects.filter(memberships__isnull=False).order_by("id")[5]
    reg.register_resident(actor=admin, name=twin.name,  # the same person typed with a wrong sequence number
                          id_number=number(f"{region}{twin.birth_date:%Y%m%d}902"), household=second)


def link_demo_resident(user, phone: str, admin, region: str) -> None:
    """The demo resident is registered at the first household and linked to their sign-in account."""
    from stdnum.cn import ric

    from modules.registry import services as reg
    from modules.registry.models import Household

    household = Household.objects.order_by("id").first()
    if household is None:
        return
    first17 = f"{region}19850615999"
    resident = reg.register_resident(actor=admin, name="张三", id_number=first17 + ric.calc_check_digit(first17 + "0"),
                                     phone=phone, household=household, relation="member")
    reg.link_account(actor=admin, resident=resident, user=user)


def seed_district(spec: dict, *, domain_suffix: str = "localhost") -> District:
    connection.set_schema_to_public()
    district = District.objects.filter(slug=spec["slug"]).first()
    if district is None:
        created = create_district(
            slug=spec["slug"], name_zh=spec["name_zh"], name_en=spec["name_en"], modules=spec["modules"],
            branding=spec["branding"], domain=f"{spec['slug']}.{domain_suffix}",
            admin=AdminSpec(username="admin", password=DEMO_PASSWORD, display_name=f"{spec['name_zh']}管理员"),
            seed_template=spec["slug"])
        district = created.district
        logo = SimpleUploadedFile("logo.png", logo_png(spec["letter"], spec["branding"].primary_color),
                                  content_type="image/png")
        district = update_branding(actor=None, district=district, logo=logo)
    elif not Domain.objects.filter(domain=f"{spec['slug']}.{domain_suffix}").exists():
        Domain.objects.create(domain=f"{spec['slug']}.{domain_suffix}", tenant=district, is_primary=False)
    with tenant_context(district):
        seed_people(district, spec)
    return district


def seed_people(district: District, spec: dict) -> None:
    from kernel.models import ModuleConfig

    User = get_user_model()
    admin = User.objects.get(username="admin")
    for key, data in spec.get("config", {}).items():
        if not ModuleConfig.objects.filter(module_key=key).exists():
            update_module_config(actor=admin, module_key=key, data=data, note="demo: rules of this district")
    for username, name, role, kind, code in PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            with transaction.atomic():
                user = create_user(actor=admin, username=username, password=DEMO_PASSWORD, display_name=name)
        assign_role(actor=admin, user=user, role=role, scope_kind=kind, scope_code=code)
    places_key = spec.get("places", spec["slug"])
    seed_registry(district, admin, places_key)
    from modules.codes.services import seed as seed_codes

    seed_codes(actor=admin)  # every household, shop, stall and official gets its codes
    phone = RESIDENT_PHONES.get(places_key)
    if phone and not User.objects.filter(username="resident").exists():
        with transaction.atomic():
            user = create_user(actor=admin, username="resident", display_name="居民 张三", phone=phone)
        assign_role(actor=admin, user=user, role=Role.RESIDENT)
        link_demo_resident(user, phone, admin, PLACES[places_key][0])
    from modules.notices.models import Notice

    for title, category, body in spec.get("notices", []):
        if not Notice.objects.filter(title=title).exists():
            publish_notice(actor=admin, title=title, body=body, category=category)
    if district.has_module("cases"):
        from console.demo_cases import seed_cases

        seed_cases(admin, rng_seed=district.slug)
    if district.has_module("points"):
        from console.demo_benefits import seed_benefits
        from console.demo_points import seed_points

        seed_points(admin, rng_seed=district.slug)
        seed_benefits(admin, rng_seed=district.slug)
