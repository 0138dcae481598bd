"""Rulebook templates a district copies when the points module is turned on (then edits freely).

``kangbashi`` has the shape of Kangbashi's scheme — 51 add rules and 33 deduct rules (seeds/004) — built
from the source reports in ``../shared/seeds``. Every rule says where it comes from:

- ``origin="report"``: the behaviour is named in a report; ``origin_note`` quotes it and says whether
  the points are the report's own (e.g. 见义勇为 +20…+50) or an example because the report gives none;
- ``origin="example"``: not in the reports; a typical item of such schemes, to be replaced by the
  district's own list (Kangbashi's full list of 51 + 33 items is not in the reports).

Reports, and the names the notes give them (a district administrator reads the notes): seeds/000
人民日报 “平台小积分助力城市大治理” (人民日报报道); seeds/001 康巴什区“五码一体”案例 (五码一体案例);
seeds/002 中新网 2022-01-21 “数字赋能社区治理 百姓智享幸福生活” (中新网报道); seeds/004 “数字赋能 提升社会治理
现代化水平” (社会治理现代化报道). Xixia's seeds/003 says nothing about points.

Every other template ("default", "laixi", "dongsheng", …) gets ``EXAMPLE_CODES``, a smaller set.
"""
from __future__ import annotations

from modules.points.models import AutoSource, CapPeriod, Direction, Origin

ADD, DEDUCT = Direction.ADD.value, Direction.DEDUCT.value
REPORT, EXAMPLE = Origin.REPORT.value, Origin.EXAMPLE.value
DAY, MONTH, YEAR = CapPeriod.DAY.value, CapPeriod.MONTH.value, CapPeriod.YEAR.value

# What a report's number means in the notes.
OWN = "分值出自报道"
EX = "报道未给分值，分值为示例"


# What a verified report credits its reporter for, by case category (the district's own categories
# and Kangbashi's responsibility list): uncivil behaviour reported (楼道堆物、乱停乱放、毁绿…), a broken
# facility or a public problem reported (路灯不亮、设施损坏、供暖…), a neighbour praised. A category no
# reporter rule names falls back to ``report_other`` (the rule that names no category), or to nothing
# where the district's ``verified_report_unmapped`` says so. Edit the lists on each rule.
UNCIVIL_CATEGORIES = ("corridor_clutter", "pipe_well", "parking", "greenery_damage", "noise", "street_vending",
                      "illegal_construction", "muck_spill", "small_ads", "dog_nuisance", "road_parking",
                      "kitchen_fumes", "construction_noise", "sewage")
PUBLIC_ISSUE_CATEGORIES = ("facility_damage", "traffic_facility", "sanitation", "water_supply", "heating", "gas",
                           "power_supply", "drainage", "public_security", "fire_hazard")
PRAISE_CATEGORIES = ("praise",)


def rule(code: str, name_zh: str, name_en: str, direction: str, category: str, lo: int, hi: int, *,
         default: int | None = None, origin: str = EXAMPLE, note: str = "", evidence: bool = False,
         committee: bool = False, cap: tuple | None = None, kind: str = "civic", auto: str = "",
         auto_categories: tuple[str, ...] = ()) -> dict:
    period, count, points = cap or ("", None, None)
    return {
        "code": code, "name_zh": name_zh, "name_en": name_en, "direction": direction, "category": category,
        "min_points": lo, "max_points": hi, "default_points": default if default is not None else lo,
        "origin": origin, "origin_note": note, "evidence_required": evidence, "committee_required": committee,
        "cap_period": period, "cap_count": count, "cap_points": points, "kind": kind, "auto_source": auto,
        "auto_categories": list(auto_categories),
    }


KANGBASHI_RULES: list[dict] = [
    # ---- add rules named in the reports --------------------------------------------------------------
    rule("heroic_act", "见义勇为", "Heroic act", ADD, "heroism", 20, 50, default=30, origin=REPORT,
         note=f"人民日报报道：“见义勇为加20分至50分”（{OWN}）", evidence=True, committee=True),
    rule("good_deed", "好人好事", "Good deed", ADD, "good_deed", 2, 100, default=5, origin=REPORT,
         note=f"人民日报报道：“好人好事加2分至100分”（{OWN}）", evidence=True, committee=True),
    rule("charity_donation", "公益捐款、慈善捐赠", "Charitable donation", ADD, "charity", 1, 20, default=2,
         origin=REPORT, note=f"人民日报报道：“公益捐款加1分至20分”；五码一体案例：“慈善捐赠”（{OWN}）", evidence=True,
         cap=(YEAR, None, 40)),
    rule("honour_moral_model", "获评“道德模范”", "Honoured as a moral model (道德模范)", ADD, "honour", 50, 100,
         default=80, origin=REPORT, note=f"五码一体案例：获得“道德模范”荣誉加分（{EX}）", evidence=True, committee=True),
    rule("honour_most_beautiful", "获评“最美人物”", "Honoured as a 'most beautiful person' (最美人物)", ADD,
         "honour", 30, 80, default=50, origin=REPORT, note=f"五码一体案例：获得“最美人物”荣誉加分（{EX}）",
         evidence=True, committee=True),
    rule("honour_good_neighbour", "获评“身边好人”", "Honoured as a good neighbour (身边好人)", ADD, "honour",
         20, 50, default=30, origin=REPORT, note=f"五码一体案例：获得“身边好人”荣誉加分（{EX}）", evidence=True,
         committee=True),
    rule("honour_civilised_family", "获评“文明家庭”", "Honoured as a civilised family (文明家庭)", ADD, "honour",
         20, 50, default=30, origin=REPORT, note=f"五码一体案例：获得“文明家庭”荣誉加分（{EX}）", evidence=True,
         committee=True),
    rule("volunteer_service", "参加志愿服务", "Volunteer service", ADD, "volunteer", 1, 5, default=2,
         origin=REPORT, note=f"人民日报报道、五码一体案例：参与志愿服务加分（{EX}）", cap=(MONTH, 10, 30)),
    rule("blood_donation", "无偿献血", "Blood donation", ADD, "charity", 10, 10, origin=REPORT,
         note=f"五码一体案例：“无偿献血”加分（{EX}）", evidence=True, cap=(YEAR, 2, None)),
    rule("low_carbon_living", "低碳生活", "Low-carbon living", ADD, "environment", 1, 3, default=1, origin=REPORT,
         note=f"五码一体案例：“低碳生活”等文明行为加分（{EX}）", cap=(MONTH, 10, 20)),
    rule("drill_participation", "主动参与核酸演练、应急演练", "Taking part in a (nucleic-acid) drill", ADD,
         "community", 5, 5, origin=REPORT,
         note=f"中新网报道：“为19747名主动参与核酸演练的居民各奖励品德积分5分”（{OWN}）", cap=(DAY, 1, None)),
    rule("honest_family", "诚实守信家庭", "Honest and trustworthy family", ADD, "integrity", 20, 20,
         origin=REPORT, note=f"中新网报道：“为一户诚实守信家庭奖励品德积分20分”（{OWN}）", evidence=True,
         committee=True),
    rule("report_uncivil", "举报不文明行为属实（码上监督、随手拍）", "Verified report of uncivil behaviour",
         ADD, "supervision", 1, 5, default=2, origin=REPORT,
         note=f"五码一体案例：“举报者获得品德积分，被举报者扣除品德积分”；随手拍上报（{EX}）", cap=(MONTH, 10, 20),
         auto=AutoSource.REPORTER.value, auto_categories=UNCIVIL_CATEGORIES),
    rule("report_good_deed", "推荐身边好人好事属实（户外码“我要点赞”）", "Verified praise of a neighbour (the one who praised)",
         ADD, "good_deed", 1, 3, default=1, origin=REPORT,
         note=f"中新网报道：“收到诚实守信、助人为乐等身边好人好事点赞事项28件”（{EX}）", cap=(MONTH, 5, None),
         auto=AutoSource.REPORTER.value, auto_categories=PRAISE_CATEGORIES),
    rule("praised_by_neighbours", "被点赞的好人好事属实（户外码“我要点赞”）", "Verified praise by neighbours",
         ADD, "good_deed", 2, 10, default=2, origin=REPORT,
         note=f"中新网报道：“收到诚实守信、助人为乐等身边好人好事点赞事项28件”（{EX}）", cap=(MONTH, 5, 20),
         auto=AutoSource.PRAISED.value),
    rule("other_beneficial", "其他有益于自然、社会、家庭和谐发展的行为", "Other deeds good for nature, society and family",
         ADD, "good_deed", 1, 10, default=2, origin=REPORT, note=f"五码一体案例：原文列举（{EX}）", evidence=True,
         committee=True),
    rule("epidemic_volunteer", "疫情防控志愿服务", "Epidemic-control volunteering", ADD, "volunteer", 2, 10,
         default=5, origin=REPORT, note=f"中新网报道：“招募疫情防控志愿者700余名”（{EX}）", cap=(MONTH, 8, 40)),
    rule("survey_answer", "参与问卷调查", "Answering a survey", ADD, "participation", 1, 1, origin=REPORT,
         note=f"中新网报道：“开展……问卷调查8次，收集有效问卷2万余份”（{EX}）", cap=(MONTH, 4, None)),
    rule("consultation_vote", "参与“码上协商”议事投票", "Taking part in a consultation vote", ADD, "participation",
         1, 2, default=1, origin=REPORT, note=f"五码一体案例：“码上协商”邀请居民协商和投票（{EX}）", cap=(MONTH, 4, None)),
    rule("adopted_suggestion", "“码上纳谏”建议被采纳", "Suggestion adopted", ADD, "participation", 2, 10,
         default=3, origin=REPORT, note=f"五码一体案例、中新网报道：码上纳谏，“收集到居民意见建议157条”（{EX}）",
         evidence=True),
    rule("part_time_grid_duty", "兼职网格员入格履职", "Serving as a part-time grid worker", ADD, "volunteer",
         1, 5, default=2, origin=REPORT, note=f"人民日报报道、中新网报道：兼职网格员随时入格上岗（{EX}）",
         cap=(MONTH, 8, 30)),
    rule("building_steward", "担任楼栋管家、探访空巢老人", "Building steward visits to elderly residents",
         ADD, "volunteer", 1, 5, default=2, origin=REPORT, note=f"社会治理现代化报道：楼栋管家定期拜访空巢老人（{EX}）",
         cap=(MONTH, 8, 30)),
    rule("summer_class_volunteer", "暑期公益课堂志愿授课", "Teaching at a summer community class", ADD,
         "volunteer", 2, 5, default=3, origin=REPORT, note=f"社会治理现代化报道：各街道社区暑期公益课堂（{EX}）",
         cap=(MONTH, 8, 30)),
    rule("mediate_dispute", "参与调解邻里矛盾纠纷", "Helping to settle a neighbour dispute", ADD, "harmony",
         2, 10, default=3, origin=REPORT, note=f"社会治理现代化报道：人民调解，“小事不出社区”（{EX}）", evidence=True),
    rule("resident_group_service", "参与“共享奶奶”“三侠客”等居民组织服务", "Service in a resident group", ADD,
         "volunteer", 1, 5, default=2, origin=REPORT, note=f"社会治理现代化报道：培育“三侠客”“共享奶奶”“周三幸福营”等居民组织（{EX}）",
         cap=(MONTH, 8, 30)),
    rule("volunteer_service_material", "志愿服务时长（物质积分）", "Volunteer hours (material points)", ADD,
         "volunteer", 1, 10, default=2, origin=REPORT, kind="material",
         note=f"社会治理现代化报道：“动态物质积分、品德积分”双积分（{EX}；需开启物质积分）", cap=(MONTH, None, 60)),
    # ---- add rules: examples (not in the reports) -----------------------------------------------------
    rule("filial_piety", "孝老爱亲", "Filial piety and care for family", ADD, "family", 5, 20, default=5,
         evidence=True, committee=True),
    rule("return_lost_property", "拾金不昧", "Returning lost property", ADD, "integrity", 2, 20, default=5,
         evidence=True),
    rule("helping_others", "助人为乐", "Helping others", ADD, "good_deed", 2, 10, default=3, evidence=True),
    rule("neighbour_help", "邻里互助", "Helping a neighbour", ADD, "harmony", 1, 5, default=2, cap=(MONTH, 5, 15)),
    rule("community_activity", "参加社区组织的文明实践活动", "Community civilisation activity", ADD, "community",
         1, 3, default=1, cap=(MONTH, 8, 20)),
    rule("waste_sorting", "垃圾分类正确投放", "Sorting waste correctly", ADD, "environment", 1, 1, kind="material",
         cap=(DAY, 1, None)),
    rule("report_public_issue", "反映公共设施、环境问题属实（随手拍）", "Verified report of a broken facility or a public problem",
         ADD, "supervision", 1, 3, default=1, cap=(MONTH, 10, 10), auto=AutoSource.REPORTER.value,
         auto_categories=PUBLIC_ISSUE_CATEGORIES),
    rule("report_other", "反映问题经核实（其他类别）", "Other verified report", ADD, "supervision", 1, 2, default=1,
         cap=(MONTH, 10, 10), auto=AutoSource.REPORTER.value),
    rule("tree_planting", "参加义务植树", "Voluntary tree planting", ADD, "environment", 2, 5, default=3,
         cap=(YEAR, 4, None)),
    rule("recycling", "旧物回收、闲置物品捐赠", "Recycling and giving away used goods", ADD, "environment", 1, 3,
         default=1, cap=(MONTH, 4, None)),
    rule("stem_cell_donation", "捐献造血干细胞", "Stem-cell donation", ADD, "charity", 30, 50, default=50,
         evidence=True, committee=True),
    rule("organ_donation_registration", "登记器官（遗体）捐献", "Registering as an organ donor", ADD, "charity",
         10, 10, evidence=True, cap=(YEAR, 1, None)),
    rule("material_donation", "捐赠物资帮扶困难群众", "Donating goods to people in need", ADD, "charity", 1, 10,
         default=2, evidence=True, cap=(YEAR, None, 40)),
    rule("poverty_relief", "结对帮扶困难家庭", "Supporting a family in hardship", ADD, "charity", 5, 20, default=5,
         evidence=True, committee=True),
    rule("care_minors", "关爱留守儿童、困境儿童", "Caring for children left behind", ADD, "good_deed", 2, 10,
         default=3, evidence=True),
    rule("crime_tip", "提供违法犯罪线索经查属实", "Verified tip about a crime", ADD, "public_order", 5, 30, default=10,
         evidence=True, committee=True),
    rule("anti_fraud_campaign", "参与反诈、禁毒宣传", "Anti-fraud and anti-drug campaigns", ADD, "public_order",
         1, 3, default=1, cap=(MONTH, 4, None)),
    rule("public_safety_patrol", "参加群防群治巡逻", "Neighbourhood safety patrol", ADD, "public_order", 1, 5,
         default=2, cap=(MONTH, 8, 30)),
    rule("traffic_civility_volunteer", "参加文明交通劝导", "Traffic civility volunteering", ADD, "traffic", 1, 3,
         default=2, cap=(MONTH, 8, 20)),
    rule("environment_cleanup", "参加社区环境整治", "Community clean-up", ADD, "environment", 1, 3, default=2,
         cap=(MONTH, 8, 20)),
    rule("outstanding_volunteer", "获评“优秀志愿者”", "Honoured as an outstanding volunteer", ADD, "honour",
         10, 30, default=20, evidence=True, committee=True),
    rule("honour_above_county", "获得县级以上表彰奖励", "County-level or higher honour", ADD, "honour", 10, 50,
         default=20, evidence=True, committee=True),
    rule("volunteer_milestone", "累计志愿服务满100小时", "100 volunteer hours in all", ADD, "volunteer", 20, 20,
         evidence=True, cap=(YEAR, 1, None)),
    rule("homeowners_committee_service", "热心参与业委会、楼长工作", "Serving on the homeowners' committee", ADD,
         "community", 2, 10, default=3, cap=(YEAR, None, 30)),
    rule("facility_repair", "主动维护、修复公共设施", "Mending public facilities", ADD, "good_deed", 1, 5, default=2,
         cap=(MONTH, 4, None)),
    # ---- deduct rules named in the reports -----------------------------------------------------------
    rule("drunk_driving", "酒驾、醉驾", "Drink-driving", DEDUCT, "traffic", 50, 50, origin=REPORT,
         note=f"中新网报道：“因酒驾、醉驾等不文明行为，扣除22人品德积分各50分”（{OWN}）", evidence=True,
         committee=True),
    rule("corridor_clutter", "楼道私拉乱堆、乱推乱放", "Corridor clutter", DEDUCT, "public_space", 2, 5, default=2,
         origin=REPORT, note=f"五码一体案例、中新网报道：户外码举报“楼道私拉乱堆”“楼道乱推乱放”（{EX}）",
         auto=AutoSource.OFFENDER.value, auto_categories=("corridor_clutter",), cap=(MONTH, 4, None)),
    rule("pipe_well_occupation", "占用管道井", "Occupying a pipe well", DEDUCT, "public_space", 2, 5, default=2,
         origin=REPORT, note=f"中新网报道：“收到占用管道井……等不文明行为举报31条”（{EX}）",
         auto=AutoSource.OFFENDER.value, auto_categories=("pipe_well",), cap=(MONTH, 4, None)),
    rule("disorderly_parking", "车辆停放无序", "Disorderly parking", DEDUCT, "traffic", 1, 5, default=2,
         origin=REPORT, note=f"五码一体案例：户外码监督“车辆停放无序”（{EX}）", auto=AutoSource.OFFENDER.value,
         auto_categories=("parking",), cap=(MONTH, 4, None)),
    rule("facility_damage", "破坏公共设施", "Damaging public facilities", DEDUCT, "public_space", 2, 10, default=3,
         origin=REPORT, note=f"五码一体案例：户外码监督“破坏公共设施”（{EX}）", auto=AutoSource.OFFENDER.value,
         auto_categories=("facility_damage",)),
    rule("greenery_damage", "破坏绿化", "Damaging greenery", DEDUCT, "environment", 2, 10, default=3, origin=REPORT,
         note=f"五码一体案例：户外码监督“破坏绿化”（{EX}）", auto=AutoSource.OFFENDER.value,
         auto_categories=("greenery_damage",)),
    rule("uncivil_reported", "其他不文明行为被举报属实", "Other uncivil behaviour, verified report", DEDUCT,
         "public_space", 1, 5, default=2, origin=REPORT,
         note=f"五码一体案例：“被举报者扣除品德积分”，对一些不文明行为进行减分（{EX}）",
         auto=AutoSource.OFFENDER.value, cap=(MONTH, 4, None)),
    # ---- deduct rules: examples ------------------------------------------------------------------------
    rule("noise_nuisance", "噪音扰民", "Noise nuisance", DEDUCT, "harmony", 1, 5, default=2,
         auto=AutoSource.OFFENDER.value, auto_categories=("noise",), cap=(MONTH, 4, None)),
    rule("throwing_from_height", "高空抛物", "Throwing things from a height", DEDUCT, "safety", 10, 30, default=20,
         evidence=True, committee=True),
    rule("littering", "乱扔垃圾", "Littering", DEDUCT, "environment", 1, 3, default=1),
    rule("uncivil_dog_keeping", "不文明养犬（未拴绳、不清理粪便）", "Uncivil dog keeping", DEDUCT, "public_space", 2, 5,
         default=2),
    rule("blocking_fire_lane", "占用、堵塞消防通道", "Blocking a fire lane", DEDUCT, "safety", 5, 10, default=5,
         evidence=True),
    rule("ebike_corridor_charging", "电动车进楼入户充电", "Charging an e-bike indoors", DEDUCT, "safety", 3, 10,
         default=5, evidence=True),
    rule("illegal_construction", "私搭乱建", "Unauthorised building", DEDUCT, "public_space", 5, 20, default=10,
         evidence=True, committee=True),
    rule("parking_lock", "私设地锁、占用公共车位", "Private lock on a shared parking space", DEDUCT, "public_space",
         2, 5, default=3),
    rule("illegal_posters", "乱贴乱画小广告", "Flyposting and graffiti", DEDUCT, "public_space", 1, 5, default=2),
    rule("running_red_light", "闯红灯、翻越护栏", "Running a red light", DEDUCT, "traffic", 1, 5, default=2,
         evidence=True),
    rule("not_yielding", "机动车不礼让行人", "Not yielding to pedestrians", DEDUCT, "traffic", 2, 5, default=3,
         evidence=True),
    rule("public_smoking", "在禁烟场所吸烟", "Smoking where it is banned", DEDUCT, "public_space", 1, 3, default=1),
    rule("illegal_fireworks", "违规燃放烟花爆竹", "Fireworks where banned", DEDUCT, "safety", 2, 10, default=5),
    rule("throwing_from_vehicle", "车窗抛物", "Throwing things out of a vehicle", DEDUCT, "traffic", 2, 5, default=2,
         evidence=True),
    rule("waste_sorting_violation", "不按规定分类投放垃圾", "Not sorting waste", DEDUCT, "environment", 1, 2,
         default=1),
    rule("damage_shared_bikes", "损坏、私占共享单车", "Damaging shared bikes", DEDUCT, "public_space", 2, 5, default=3),
    rule("street_occupation", "占道经营、占道堆物", "Occupying the street", DEDUCT, "public_space", 2, 5, default=2),
    rule("animal_cruelty", "虐待动物", "Animal cruelty", DEDUCT, "harmony", 5, 20, default=10, evidence=True,
         committee=True),
    rule("fighting", "打架斗殴", "Fighting", DEDUCT, "public_order", 10, 30, default=20, evidence=True,
         committee=True),
    rule("gambling", "参与赌博", "Gambling", DEDUCT, "public_order", 10, 30, default=20, evidence=True,
         committee=True),
    rule("domestic_violence", "家庭暴力", "Domestic violence", DEDUCT, "family", 20, 50, default=30, evidence=True,
         committee=True),
    rule("elder_neglect", "不履行赡养义务", "Neglecting elderly parents", DEDUCT, "family", 10, 30, default=20,
         evidence=True, committee=True),
    rule("false_report", "恶意举报、虚假举报", "Malicious or false report", DEDUCT, "supervision", 5, 20, default=5,
         evidence=True, committee=True),
    rule("dishonest_debtor", "被列为失信被执行人", "Listed as a dishonest judgment debtor", DEDUCT, "integrity",
         20, 50, default=30, evidence=True, committee=True),
    rule("abusing_staff", "辱骂、妨碍网格员等工作人员履职", "Abusing staff at work", DEDUCT, "public_order", 5, 20,
         default=10, evidence=True, committee=True),
    rule("criminal_penalty", "因违法犯罪受到处罚", "Punished for an offence", DEDUCT, "public_order", 20, 50,
         default=50, evidence=True, committee=True),
]

# The smaller set every other district starts from (same rows, same origin marks).
EXAMPLE_CODES = (
    "heroic_act", "good_deed", "charity_donation", "volunteer_service", "blood_donation", "drill_participation",
    "report_uncivil", "report_good_deed", "report_public_issue", "report_other", "praised_by_neighbours",
    "drunk_driving", "corridor_clutter", "uncivil_reported", "littering", "throwing_from_height",
)


def template_key(template: str) -> str:
    """Which rulebook a district seeded with ``template`` gets: "kangbashi" or "default" (the examples)."""
    return "kangbashi" if (template or "").lower() == "kangbashi" else "default"


def rules_for(template: str) -> list[dict]:
    """The rules a district seeded with ``template`` starts with."""
    if template_key(template) == "kangbashi":
        return [dict(r) for r in KANGBASHI_RULES]
    wanted = set(EXAMPLE_CODES)
    return [dict(r) for r in KANGBASHI_RULES if r["code"] in wanted]
