"""Kangbashi's responsibility list (权责清单) for the demo: which unit answers which kind of problem
where, and how fast (接诉即办: respond on receipt, resolve within working days).

``seed_kangbashi_rlist(admin)`` adds the categories and departments the list needs and publishes it
as a new version through the cases module's own checked path (``rules.publish_list``: every row
checked against the district's categories, places and departments). It runs once: a district that
already has a version with this list's note gets nothing new, so a district administrator's later
edits are kept. It does nothing where Kangbashi's demo places (``modules.registry.demo.PLACES``) are not
the district's streets and communities.

Where the rows come from (../shared/seeds/, Chinese news reports):

From the reports —
- Xixia (西夏区, report 004) sorted its problems into a list of 64 categories and 200+ items, each
  naming the unit that handles it and its time limit; hotline and mailbox cases go straight to the
  community's staff. That is the shape of this list.
- Kangbashi (reports 000–003): outdoor-code reports of cluttered corridors, occupied pipe wells,
  disorderly parking, broken public facilities and damaged greenery go to the grid workers
  (corridor_clutter, pipe_well, parking, facility_damage, greenery_damage); "社区下单、网格员抢单"
  (the community posts, grid workers grab: the grab categories below route to the grid or the
  community only); merchant requests through the merchant code are answered "接诉即办" by sector
  grid workers (merchant_help; market supervision, commerce and city management are the
  departments the report names around merchants); the night market's mobile-stall code, a
  city-management tool (street_vending, the G0101 rows: the demo's stalls are in G0101);
  suggestions are addressed to a street, community or compound (suggestion); praise (praise); the
  people's mediation rooms take neighbour quarrels, private-loan disputes and property disputes,
  "小事不出社区，大事不出街道" (neighbour_dispute, loan_dispute, property_service); the community
  elderly-care stations with building stewards (elderly_care); the residents' complaints about
  stair-well cleanliness and compound services (sanitation); public-rental housing and pension
  insurance notices (public_housing, social_insurance); holiday child care by the communities'
  summer classes (child_care); community doctors (health_service).
- Units named in the reports: grid workers (full-time, part-time, sector), communities, streets,
  people's mediators, 城管 (city management), 市场监管 (market supervision), 公安 (police, with the
  community police officers), 司法 (justice).

Examples (believable, not from the reports; edit them in /cases/settings/) —
- Categories: noise, illegal_construction, muck_spill, small_ads, dog_nuisance, road_parking,
  traffic_facility, public_transport, water_supply, heating, gas, power_supply, drainage,
  kitchen_fumes, construction_noise, sewage, food_safety, price_consumer, subsistence,
  wage_arrears, public_security, fire_hazard.
- Units: 民政局, 住房和城乡建设局 (both already in the demo registry), 生态环境局康巴什区分局,
  交警大队, 交通运输局, 人力资源和社会保障局, 教育体育局, 卫生健康委员会, 消防救援大队, the
  utilities (供水、热力、燃气、供电公司), and the street-level stations (派出所, 市场监督管理所,
  司法所, 社区卫生服务中心) of 青春山街道 (S01) and 滨河街道 (S02).
- Every time limit, and every place-specific row: 青春山街道 as the district seat and core area of
  the civilised-city campaign (shorter limits), 滨河街道's riverside greenery, morning market and
  building sites, the older compounds of 康和 (C01) and 康泽 (C02) whose water, heating and power
  lines inside the compound are the housing bureau's to get fixed, and 康馨 (C03), whose two grids
  have no grid worker of their own in the demo, so its community staff take the grid's cases.
"""
from __future__ import annotations

from django.db import transaction

NOTE = "康巴什区权责清单（演示：据“多多评”报道整理，部门与时限为示例）"

# Departments and other units the rows name: code, name, its staff work as sector grid workers.
# The first five are the registry demo's DEPARTMENTS (kept as they are); the rest are added when missing.
UNITS = [
    ("civil-affairs", "民政局", False),
    ("urban-mgmt", "城市管理综合执法局", True),
    ("housing", "住房和城乡建设局", True),
    ("market", "市场监督管理局", True),
    ("police", "公安分局", False),
    ("eco-env", "生态环境局康巴什区分局", True),
    ("traffic-police", "交警大队", False),
    ("transport", "交通运输局", False),
    ("justice", "司法局", False),
    ("hr-social", "人力资源和社会保障局", False),
    ("education", "教育体育局", False),
    ("health", "卫生健康委员会", False),
    ("fire", "消防救援大队", False),
    ("water-co", "供水公司", False),
    ("heat-co", "热力公司", False),
    ("gas-co", "燃气公司", False),
    ("power-co", "供电公司", False),
    ("police-s01", "青春山派出所", False),
    ("police-s02", "滨河派出所", False),
    ("market-s01", "青春山市场监督管理所", True),
    ("market-s02", "滨河市场监督管理所", True),
    ("justice-s01", "青春山司法所", False),
    ("justice-s02", "滨河司法所", False),
    ("health-s01", "青春山社区卫生服务中心", False),
    ("health-s02", "滨河社区卫生服务中心", False),
]

# The places the rows name (the registry demo's PLACES["kangbashi"]): code -> (kind, name; None: any name).
PLACES = {
    "S01": ("street", "青春山街道"), "S02": ("street", "滨河街道"),
    "C01": ("community", "康和社区"), "C02": ("community", "康泽社区"), "C03": ("community", "康馨社区"),
    "G0101": ("grid", None), "G0102": ("grid", None), "G0201": ("grid", None), "G0301": ("grid", None),
    "G0302": ("grid", None),
}

DISPATCH, GRAB = "dispatch", "grab"
# code, 中文, English, assign mode. The first nine are the district seed's (services.DEFAULT_CATEGORIES):
# they are kept exactly as they are; the others are added when missing.
CATEGORIES = [
    ("corridor_clutter", "楼道堆物", "Corridor clutter", DISPATCH),
    ("pipe_well", "占用管井", "Occupied pipe wells", DISPATCH),
    ("parking", "乱停乱放", "Disorderly parking", GRAB),
    ("facility_damage", "设施损坏", "Damaged facilities", GRAB),
    ("greenery_damage", "毁绿", "Greenery damage", DISPATCH),
    ("noise", "噪音扰民", "Noise", DISPATCH),
    ("merchant_help", "商户诉求", "Merchant help", DISPATCH),
    ("suggestion", "意见建议", "Suggestion", DISPATCH),
    ("praise", "好人好事", "Praise", DISPATCH),
    ("street_vending", "占道经营", "Street vending", DISPATCH),
    ("illegal_construction", "违章建筑", "Illegal construction", DISPATCH),
    ("muck_spill", "渣土撒漏", "Spilled muck from trucks", DISPATCH),
    ("small_ads", "乱贴乱画", "Flyposting and graffiti", GRAB),
    ("sanitation", "环境卫生", "Sanitation", DISPATCH),
    ("dog_nuisance", "不文明养犬", "Uncivil dog keeping", DISPATCH),
    ("road_parking", "道路违停", "Illegal parking on roads", DISPATCH),
    ("traffic_facility", "交通设施损坏", "Damaged traffic facilities", DISPATCH),
    ("public_transport", "公交出租", "Buses and taxis", DISPATCH),
    ("water_supply", "供水", "Water supply", DISPATCH),
    ("heating", "供暖", "Heating", DISPATCH),
    ("gas", "燃气", "Gas", DISPATCH),
    ("power_supply", "供电", "Power supply", DISPATCH),
    ("drainage", "排水管网", "Drains and sewers", DISPATCH),
    ("kitchen_fumes", "餐饮油烟", "Kitchen fumes", DISPATCH),
    ("construction_noise", "施工噪音", "Construction noise", DISPATCH),
    ("sewage", "污水直排", "Sewage discharge", DISPATCH),
    ("food_safety", "食品安全", "Food safety", DISPATCH),
    ("price_consumer", "价格与消费纠纷", "Prices and consumer disputes", DISPATCH),
    ("neighbour_dispute", "邻里纠纷", "Neighbour disputes", DISPATCH),
    ("loan_dispute", "民间借贷纠纷", "Private loan disputes", DISPATCH),
    ("property_service", "物业服务", "Property management", DISPATCH),
    ("elderly_care", "养老服务", "Elderly care", DISPATCH),
    ("subsistence", "低保与救助", "Subsistence allowance and relief", DISPATCH),
    ("public_housing", "公租房", "Public rental housing", DISPATCH),
    ("social_insurance", "社保与养老保险", "Social and pension insurance", DISPATCH),
    ("wage_arrears", "拖欠工资", "Unpaid wages", DISPATCH),
    ("public_security", "治安隐患", "Public security hazards", DISPATCH),
    ("fire_hazard", "消防安全隐患", "Fire hazards", DISPATCH),
    ("child_care", "假期托管", "Holiday child care", DISPATCH),
    ("health_service", "医疗卫生", "Health services", DISPATCH),
]

# category, area ("" the whole district, else a street, community or grid code of PLACES),
# unit ("grid": the case's own grid's workers; a street, community or grid code; else a department
# code of UNITS), response limit in hours, resolution limit in working days.
# The most specific row wins (grid > community > street > district).
ROWS = [
    ("corridor_clutter", "", "grid", 24, 3),
    ("corridor_clutter", "S01", "grid", 12, 2),  # district seat, civilised-city core area: stricter
    ("corridor_clutter", "C03", "C03", 24, 3),  # no grid worker of its own in the demo: the community
    ("pipe_well", "", "grid", 24, 3),
    ("pipe_well", "S01", "grid", 12, 2),
    ("pipe_well", "C03", "C03", 24, 3),
    ("parking", "", "grid", 24, 2),  # grab: 社区下单、网格员抢单
    ("parking", "C01", "C01", 24, 2),
    ("parking", "C02", "C02", 24, 2),
    ("parking", "C03", "C03", 24, 2),
    ("facility_damage", "", "grid", 24, 5),  # grab
    ("facility_damage", "C01", "C01", 24, 5),
    ("facility_damage", "C02", "C02", 24, 5),
    ("facility_damage", "C03", "C03", 24, 5),
    ("greenery_damage", "", "grid", 24, 5),
    ("greenery_damage", "S02", "urban-mgmt", 24, 5),  # riverside public greenery
    ("noise", "", "grid", 24, 3),
    ("noise", "C03", "C03", 24, 3),
    ("noise", "G0101", "urban-mgmt", 2, 1),  # night market: stall hawking and loudspeakers
    ("merchant_help", "", "market", 2, 5),  # sector grid workers, 接诉即办
    ("merchant_help", "S01", "market-s01", 2, 5),
    ("merchant_help", "S02", "market-s02", 2, 5),
    ("merchant_help", "G0101", "urban-mgmt", 2, 3),  # night-market stalls: the mobile-stall code
    ("suggestion", "", "grid", 24, 10),
    ("suggestion", "S01", "S01", 24, 15),
    ("suggestion", "S02", "S02", 24, 15),
    ("suggestion", "C01", "C01", 24, 10),
    ("suggestion", "C02", "C02", 24, 10),
    ("suggestion", "C03", "C03", 24, 10),
    ("praise", "", "grid", 24, 5),
    ("praise", "C03", "C03", 24, 5),
    ("street_vending", "", "urban-mgmt", 2, 2),
    ("street_vending", "S01", "S01", 2, 2),  # the street's own law-enforcement team (delegated power)
    ("street_vending", "S02", "urban-mgmt", 2, 1),  # the riverside morning market
    ("street_vending", "G0101", "urban-mgmt", 2, 1),  # night market
    ("illegal_construction", "", "urban-mgmt", 24, 15),
    ("illegal_construction", "C01", "grid", 24, 3),  # inside a compound: the grid worker checks and
    ("illegal_construction", "C02", "grid", 24, 3),  # persuades first, then transfers to city management
    ("illegal_construction", "C03", "grid", 24, 3),
    ("muck_spill", "", "urban-mgmt", 2, 1),
    ("muck_spill", "S02", "housing", 2, 2),  # building sites' gates: the housing bureau's site supervision
    ("small_ads", "", "grid", 24, 2),  # grab
    ("small_ads", "C01", "C01", 24, 2),
    ("small_ads", "C02", "C02", 24, 2),
    ("small_ads", "C03", "C03", 24, 2),
    ("sanitation", "", "urban-mgmt", 24, 1),  # roads and squares: street cleaning
    ("sanitation", "C01", "grid", 24, 2),  # stair wells and compounds: the grid worker and the property firm
    ("sanitation", "C02", "grid", 24, 2),
    ("sanitation", "C03", "grid", 24, 2),
    ("sanitation", "G0101", "urban-mgmt", 24, 1),  # night market after closing
    ("dog_nuisance", "", "police", 24, 5),
    ("dog_nuisance", "S01", "police-s01", 24, 5),
    ("dog_nuisance", "S02", "police-s02", 24, 5),
    ("road_parking", "", "traffic-police", 2, 1),
    ("traffic_facility", "", "traffic-police", 24, 5),
    ("public_transport", "", "transport", 24, 5),
    ("water_supply", "", "water-co", 2, 2),
    ("water_supply", "C01", "housing", 2, 3),  # older compounds: secondary supply pumps
    ("water_supply", "C02", "housing", 2, 3),
    ("heating", "", "heat-co", 2, 3),
    ("heating", "C01", "housing", 2, 5),  # older compounds: pipes being renewed
    ("heating", "C02", "housing", 2, 5),
    ("gas", "", "gas-co", 2, 1),
    ("power_supply", "", "power-co", 2, 2),
    ("power_supply", "C01", "housing", 2, 3),  # older compounds: wiring not yet handed to the utility
    ("power_supply", "C02", "housing", 2, 3),
    ("drainage", "", "housing", 24, 3),
    ("drainage", "C01", "grid", 24, 2),  # inside a compound: the property firm, urged by the grid worker
    ("drainage", "C02", "grid", 24, 2),
    ("drainage", "C03", "grid", 24, 2),
    ("kitchen_fumes", "", "eco-env", 24, 7),
    ("kitchen_fumes", "G0101", "urban-mgmt", 2, 1),  # open-air barbecue at the night market
    ("construction_noise", "", "eco-env", 2, 3),
    ("construction_noise", "S02", "housing", 2, 3),  # building sites along the river
    ("sewage", "", "eco-env", 24, 5),
    ("sewage", "S02", "eco-env", 2, 3),  # next to the river: faster
    ("food_safety", "", "market", 2, 3),
    ("food_safety", "S01", "market-s01", 2, 3),
    ("food_safety", "S02", "market-s02", 2, 3),
    ("food_safety", "G0101", "market-s01", 2, 1),  # night market
    ("price_consumer", "", "market", 24, 7),
    ("price_consumer", "S01", "market-s01", 24, 7),
    ("price_consumer", "S02", "market-s02", 24, 7),
    ("price_consumer", "G0101", "market-s01", 24, 3),  # night market: prices shown on every stall
    ("neighbour_dispute", "", "grid", 24, 5),
    ("neighbour_dispute", "C01", "C01", 24, 5),  # the community, with a people's mediator joining
    ("neighbour_dispute", "C02", "C02", 24, 5),
    ("neighbour_dispute", "C03", "C03", 24, 5),
    ("loan_dispute", "", "justice", 24, 10),
    ("loan_dispute", "S01", "justice-s01", 24, 10),  # "大事不出街道": the street's justice office
    ("loan_dispute", "S02", "justice-s02", 24, 10),
    ("property_service", "", "housing", 24, 10),
    ("property_service", "C01", "C01", 24, 5),  # the community calls in the property firm
    ("property_service", "C02", "C02", 24, 5),
    ("property_service", "C03", "C03", 24, 5),
    ("elderly_care", "", "civil-affairs", 24, 5),
    ("elderly_care", "C01", "C01", 12, 3),  # the community's elderly-care station and building stewards
    ("elderly_care", "C02", "C02", 12, 3),
    ("elderly_care", "C03", "C03", 12, 3),
    ("subsistence", "", "civil-affairs", 24, 10),
    ("subsistence", "S01", "S01", 24, 10),  # applications are taken by the street
    ("subsistence", "S02", "S02", 24, 10),
    ("public_housing", "", "housing", 24, 10),
    ("public_housing", "S01", "S01", 24, 10),  # applications are taken by the street
    ("public_housing", "S02", "S02", 24, 10),
    ("social_insurance", "", "hr-social", 24, 10),
    ("social_insurance", "S01", "S01", 24, 10),  # the street's service centre
    ("social_insurance", "S02", "S02", 24, 10),
    ("wage_arrears", "", "hr-social", 24, 7),
    ("wage_arrears", "S02", "housing", 24, 7),  # building sites: wages of construction workers
    ("public_security", "", "police", 2, 3),
    ("public_security", "S01", "police-s01", 2, 3),
    ("public_security", "S02", "police-s02", 2, 3),
    ("public_security", "G0101", "police-s01", 2, 1),  # night market
    ("fire_hazard", "", "fire", 2, 1),
    ("fire_hazard", "C01", "grid", 2, 1),  # blocked fire lanes in compounds: cleared at once
    ("fire_hazard", "C02", "grid", 2, 1),
    ("fire_hazard", "C03", "grid", 2, 1),
    ("fire_hazard", "G0101", "fire", 2, 1),  # night market: gas bottles at the stalls
    ("child_care", "", "education", 24, 10),
    ("child_care", "C01", "C01", 24, 5),  # the community's summer classes
    ("child_care", "C02", "C02", 24, 5),
    ("child_care", "C03", "C03", 24, 5),
    ("health_service", "", "health", 24, 5),
    ("health_service", "S01", "health-s01", 24, 5),
    ("health_service", "S02", "health-s02", 24, 5),
]


def _kind_and_code(code: str) -> tuple[str, str]:
    """A row's unit as (unit kind, unit code)."""
    if code == "grid":
        return "grid_workers", ""
    kind = PLACES[code][0] if code in PLACES else "department"
    return ("grid_workers" if kind == "grid" else kind), code


def table_rows() -> list[tuple[int, dict]]:
    """The rows as the settings table gives them to ``rules.publish_list`` (row number, values)."""
    out = []
    for number, (category, area, unit, response_hours, resolution_days) in enumerate(ROWS, start=1):
        unit_kind, unit_code = _kind_and_code(unit)
        out.append((number, {
            "category": category, "area_kind": PLACES[area][0] if area else "district", "area_code": area,
            "unit_kind": unit_kind, "unit_code": unit_code, "response_amount": response_hours,
            "response_unit": "hours", "resolution_amount": resolution_days, "resolution_unit": "working_days"}))
    return out


def _has_kangbashi_places() -> bool:
    from modules.registry.models import Community, Grid, Street

    named = {**dict(Street.objects.values_list("code", "name")), **dict(Community.objects.values_list("code", "name"))}
    grids = set(Grid.objects.values_list("code", flat=True))
    return all((named.get(code) == name) if kind != "grid" else code in grids for code, (kind, name) in PLACES.items())


def seed_kangbashi_rlist(admin):
    """Categories, departments and the list above, published once as a new version. Returns the
    version carrying this list's note (new or earlier), or None where Kangbashi's places are not."""
    from modules.cases import rules
    from modules.cases.models import Category, ResponsibilityList
    from modules.registry import services as registry
    from modules.registry.models import Department

    done = ResponsibilityList.objects.filter(note=NOTE).order_by("-version").first()
    if done is not None or not _has_kangbashi_places():
        return done
    with transaction.atomic():
        have = set(Department.objects.values_list("code", flat=True))
        for code, name, sector in UNITS:
            if code not in have:
                registry.create_department(actor=admin, code=code, name=name, is_sector=sector)
        existing = {c.code: c for c in Category.objects.all()}
        for code, name_zh, name_en, mode in CATEGORIES:
            category = existing.get(code)
            if category is None:
                rules.save_category(actor=admin, code=code, name_zh=name_zh, name_en=name_en, assign_mode=mode,
                                    new=True)
            elif not category.active:  # a switched-off category cannot carry rows: switch it on, as it is
                rules.save_category(actor=admin, code=code, name_zh=category.name_zh, name_en=category.name_en,
                                    assign_mode=category.assign_mode)
        return rules.publish_list(actor=admin, rows=table_rows(), note=NOTE)
