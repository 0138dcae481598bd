"""The three demo districts of `make run`: Kangbashi (all modules, the report's rules), Dongsheng
and Laixi, each with its own module set, rules and branding, and demo people for every role.

The console keeps only what makes a district a district (names, branding, module set, its rules, its
people and roles); each module seeds its own demo data through the ``demo`` hook of its spec
(``ModuleSpec.demo``, e.g. ``modules/registry/demo.py``), called here for every module the district
has, in dependency order. A spec's ``places`` (default: its slug) names the demo district it is seeded
as; the hooks get it as ``rng_seed``."""
from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context

from accounts.services import create_user
from kernel.demo import DEMO_PASSWORD
from kernel.roles import Role, ScopeKind
from kernel.services import assign_role, update_module_config
from modules.catalog import catalog
from tenants.models import District, Domain
from tenants.services import AdminSpec, Branding, create_district, update_branding

DISTRICTS = [
    {
        "slug": "kangbashi", "name_zh": "康巴什区", "name_en": "Kangbashi", "plan": "city-metered",
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
    },
    {
        "slug": "dongsheng", "name_zh": "东胜区", "name_en": "Dongsheng", "plan": "standard",
        "branding": Branding(title_zh="东胜·码上办", title_en="Dongsheng on a Code",
                             primary_color="#1565c0", accent_color="#ffb300"),
        "modules": ["registry", "codes", "cases", "ratings", "notices"],
        "letter": "D",
        "config": {
            "cases": {"response_hours": 4, "resolution_days": 5, "grab_cap_per_worker": 3, "auto_close_days": 5,
                      "anonymous_reports": False, "max_video_mb": 20},
            "ratings": {"raters": "verified_phone", "period": "week", "follow_up_working_days": 10,
                        "min_ratings_for_ranking": 5,
                        "merchant_dimensions": [
                            {"key": "attitude", "name_zh": "服务态度", "name_en": "Service attitude"},
                            {"key": "environment", "name_zh": "经营环境", "name_en": "Environment"},
                            {"key": "price", "name_zh": "明码标价", "name_en": "Fair, posted prices"},
                            {"key": "hygiene", "name_zh": "食品卫生", "name_en": "Food hygiene"}]},
        },
    },
    {
        "slug": "laixi", "name_zh": "莱西市", "name_en": "Laixi", "plan": "standard",
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


# The public site's people: username, display name, role, vendor slug.
PLATFORM_PEOPLE = [
    ("ops", "平台运维 高峰", "ops", None),
    ("finance", "平台财务 林悦", "finance", None),
    ("vendor", "服务商 鄂尔多斯码上科技 马骏", "vendor", "ordos-mashang"),
    ("vendor2", "服务商 青岛智城信息 孔蕾", "vendor", "qingdao-zhicheng"),
]
VENDORS = {
    "ordos-mashang": ("鄂尔多斯码上科技有限公司", "Ordos Mashang Technology Co., Ltd."),
    "qingdao-zhicheng": ("青岛智城信息技术有限公司", "Qingdao Zhicheng Information Technology Co., Ltd."),
}
# Which vendor rolled out which demo district.
DISTRICT_VENDOR = {"kangbashi": "ordos-mashang", "dongsheng": "ordos-mashang", "laixi": "qingdao-zhicheng"}


def ensure_vendor(slug: str):
    from tenants.models import Vendor
    from tenants.services import create_vendor

    connection.set_schema_to_public()
    vendor = Vendor.objects.filter(slug=slug).first()
    if vendor is None:
        name_zh, name_en = VENDORS[slug]
        vendor = create_vendor(actor=None, slug=slug, name_zh=name_zh, name_en=name_en)
    return vendor


def ensure_platform_staff() -> list[tuple[str, str, str]]:
    """The public site's demo people (ops, finance, two vendors); returns (username, password, role)."""
    from tenants.services import grant_platform_role

    connection.set_schema_to_public()
    User = get_user_model()
    made = []
    for username, name, role, vendor_slug in PLATFORM_PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            with transaction.atomic():
                user = create_user(actor=None, username=username, password=DEMO_PASSWORD, display_name=name,
                                   is_staff=role == "ops", is_superuser=role == "ops")
        grant_platform_role(actor=None, user=user, role=role,
                            vendor=ensure_vendor(vendor_slug) if vendor_slug else None)
        made.append((username, DEMO_PASSWORD, role))
    return made


def seed_district(spec: dict, *, domain_suffix: str = "localhost", sign_ins: list[str] | None = None) -> District:
    connection.set_schema_to_public()
    district = District.objects.filter(slug=spec["slug"]).first()
    if district is None:
        created = create_district(
            slug=spec["slug"], name_zh=spec["name_zh"], name_en=spec["name_en"], modules=spec["modules"],
            branding=spec["branding"], domain=f"{spec['slug']}.{domain_suffix}",
            admin=AdminSpec(username="admin", password=DEMO_PASSWORD, display_name=f"{spec['name_zh']}管理员"),
            seed_template=spec["slug"], vendor=ensure_vendor(DISTRICT_VENDOR[spec.get("places", spec["slug"])]))
        district = created.district
        logo = SimpleUploadedFile("logo.png", logo_png(spec["letter"], spec["branding"].primary_color),
                                  content_type="image/png")
        district = update_branding(actor=None, district=district, logo=logo)
    elif not Domain.objects.filter(domain=f"{spec['slug']}.{domain_suffix}").exists():
        Domain.objects.create(domain=f"{spec['slug']}.{domain_suffix}", tenant=district, is_primary=False)
    with tenant_context(district):
        seed_people(district, spec, sign_ins=sign_ins)
    return district


def seed_people(district: District, spec: dict, *, without: tuple[str, ...] = (),
                sign_ins: list[str] | None = None) -> None:
    """The district's rules and people, then every enabled module's demo (``without``: modules whose
    demo is left out). Lines the hooks return for the sign-in sheet are added to ``sign_ins``."""
    from kernel.models import ModuleConfig

    User = get_user_model()
    admin = User.objects.get(username="admin")
    for key, data in spec.get("config", {}).items():
        if not ModuleConfig.objects.filter(module_key=key).exists():
            update_module_config(actor=admin, module_key=key, data=data, note="演示：本区的规则")
    for username, name, role, kind, code in PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            with transaction.atomic():
                user = create_user(actor=admin, username=username, password=DEMO_PASSWORD, display_name=name)
        assign_role(actor=admin, user=user, role=role, scope_kind=kind, scope_code=code)
    rng_seed = spec.get("places", spec["slug"])
    phone = RESIDENT_PHONES.get(rng_seed)
    if phone and not User.objects.filter(username="resident").exists():
        with transaction.atomic():
            user = create_user(actor=admin, username="resident", display_name="居民 张三", phone=phone)
        assign_role(actor=admin, user=user, role=Role.RESIDENT)
    lines = seed_modules(district, admin=admin, rng_seed=rng_seed, without=without)
    if sign_ins is not None:
        sign_ins.extend(lines)


def seed_modules(district: District, *, admin, rng_seed: str, without: tuple[str, ...] = ()) -> list[str]:
    """Call the ``demo`` hook of every module the district has, in dependency order (a module without
    a hook is skipped); returns the lines the hooks give for the sign-in sheet."""
    lines: list[str] = []
    for spec in catalog.in_dependency_order(s.key for s in catalog.effective(district)):
        if spec.demo and spec.key not in without:
            lines.extend(import_string(spec.demo)(district=district, admin=admin, rng_seed=rng_seed) or ())
    return lines


def open_demo_billing(port: str) -> list[str]:
    """Each demo district gets its Stripe customer and subscription (billing.services.open_account,
    idempotent); with the Stripe fake of `make run` (localstripe), its webhooks are pointed at this
    server first. Returns lines for the sign-in sheet; a Stripe that can't be reached is a warning,
    never a failed demo."""
    import json
    import urllib.request

    from django.conf import settings

    from billing.services import open_account

    base = settings.STRIPE_API_BASE
    lines = []
    if base.startswith(("http://127.0.0.1", "http://localhost")):
        body = json.dumps({"url": f"http://localhost:{port}/billing/stripe/webhook/",
                           "secret": settings.STRIPE_WEBHOOK_SECRET}).encode()
        request = urllib.request.Request(f"{base}/_config/webhooks/mashang-demo", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError as exc:
            return [f"billing: the Stripe fake at {base} did not answer ({exc}); run `make stripe-fake`"]
    connection.set_schema_to_public()
    for spec in DISTRICTS:
        district = District.objects.filter(slug=spec["slug"]).first()
        if district is None:
            continue
        try:
            account = open_account(actor=None, district=district, plan=spec.get("plan"))
        except Exception as exc:  # noqa: BLE001 - the demo goes on without billing
            lines.append(f"billing: {district.slug} not opened ({type(exc).__name__}: {exc})")
            continue
        lines.append(f"billing: {district.slug} on plan {account.plan.key} ({account.get_state_display()})")
    return lines
