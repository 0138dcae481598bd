"""The cases module's demo (``SPEC.demo``): Kangbashi's responsibility list (``demo_rlist``, where
Kangbashi's places are), then a month of reports in every state, through the real services, so the
resident's "my cases", the staff pool, the figures and Open311 all have something true to show.

Idempotent: a district that already has cases gets none. Integrations (12345 hotline, an Open311
client) get a fresh key on every run, which the hook returns as lines of the sign-in sheet the console
prints (a key is shown only once)."""
from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.utils import timezone

REPORTS = [
    # category, title, description
    ("corridor_clutter", "楼道堆放纸箱杂物", "三单元二楼楼道堆满纸箱和旧家具，影响通行，也有火灾隐患。"),
    ("corridor_clutter", "消防通道被自行车堵住", "一楼消防通道停了七八辆自行车和电动车。"),
    ("pipe_well", "管道井被占用堆放杂物", "五楼管道井里堆了装修剩下的瓷砖和水泥袋。"),
    ("parking", "小区门口车辆乱停", "早高峰小区门口两侧停满车辆，救护车进不来。"),
    ("parking", "共享单车堆在盲道上", "公交站旁盲道上堆了十几辆共享单车。"),
    ("facility_damage", "健身器材损坏", "小区广场的漫步机断了一根扶手，老人锻炼有危险。"),
    ("facility_damage", "路灯不亮", "二号楼和三号楼之间的路灯连续一周不亮，晚上很黑。"),
    ("greenery_damage", "绿地被改成菜地", "楼前公共绿地被人圈起来种菜。"),
    ("noise", "夜间装修噪音", "楼上晚上十点以后还在电钻施工。"),
    ("noise", "广场舞音响太大", "晚上八点到十点广场舞音响声音很大，影响学生学习。"),
]
PRAISES = [("praise", "邻居帮忙送老人就医", "住在 201 的小伙子半夜背着独居老人下楼去医院。"),
           ("praise", "主动清理楼道小广告", "这户人家每周都主动清理单元楼道里的小广告。")]
SUGGESTIONS = [("suggestion", "建议增设电动车充电桩", "小区电动车多，楼道充电有隐患，建议在车棚增设充电桩。"),
               ("suggestion", "建议延长社区食堂开放时间", "社区长者食堂晚饭五点半就关门，建议延长到七点。")]
HOTLINE = [("noise", "12345：反映夜间施工噪音", "市民来电反映小区附近工地夜间施工，噪音扰民。"),
           ("parking", "12345：反映小区门口占道停车", "市民来电反映小区门口长期占道停车。")]
RESULTS = ["已现场核实并督促清理完毕，拍照留存。", "已联系物业处理，设施已修复。", "已与当事人沟通，承诺不再发生。",
           "已协调城管执法队到场处理，现场已恢复秩序。"]
COMMENTS = {5: "处理很及时，谢谢网格员！", 4: "处理了，态度不错。", 3: "基本解决了。", 2: "拖得太久了。", 1: "没有真正解决。"}
INTEGRATIONS = [("12345 政务服务便民热线", "hotline", "POST /api/v1/cases/intake/"),  # name, kind, how it calls
                ("Open311 演示客户端", "open311", "POST /open311/v2/requests.json")]


def seed_demo(*, district, admin, rng_seed: str) -> list[str]:
    """The hook: the list and the cases once, then the demo integrations' new keys, one line each."""
    from modules.cases.demo_rlist import seed_kangbashi_rlist

    seed_kangbashi_rlist(admin)  # Kangbashi's own list, once; nothing where Kangbashi's places are not
    seed_cases(admin, rng_seed=rng_seed)
    lines = []
    for name, kind, how in INTEGRATIONS:
        _integration, key = demo_integration(admin, name=name, kind=kind)
        lines.append(f"{kind} key:{' ' * (12 - len(kind))}{key}   ({how})")
    return lines


def seed_cases(admin, *, rng_seed: str) -> None:
    from kernel.errors import NotAllowed
    from kernel.selectors import module_config
    from modules.cases import services
    from modules.cases.models import Case
    from modules.registry.models import Community, Household, Street

    if Case.objects.exists():
        return
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["resident", "grid", "parttime", "staff",
                                                                       "sector", "official"])}
    resident = users.get("resident")
    rng = random.Random(rng_seed)
    # Mostly the grids with workers in the demo (G0101, G0102), some elsewhere.
    households = list(Household.objects.select_related("grid__community__street", "building__compound")
                      .filter(grid__code__in=["G0101", "G0102"]).order_by("id")[:50])
    households += list(Household.objects.select_related("grid__community__street", "building__compound")
                       .exclude(grid__code__in=["G0101", "G0102"]).order_by("id")[:10])
    rng.shuffle(households)
    if not households or resident is None:
        return
    now = timezone.now()
    start = now - dt.timedelta(days=30)
    anonymous = module_config("cases").get("anonymous_reports", True)

    workers = {"G0101": users.get("grid"), "G0102": users.get("parttime")}

    def run(case, stage: int, at: dt.datetime, reporter):
        """Move a case through ``stage`` steps: 1 accepted, 2 in progress, 3 resolved, 4 closed & rated.
        A case nobody may take (a grid without a worker in the demo) stays open, and escalates."""
        step = dt.timedelta(hours=rng.randint(1, 20))
        try:
            if stage >= 1 and case.assignee is None:
                worker = workers.get(case.grid.code if case.grid else "")
                if case.assign_mode == "grab" and worker is not None:
                    case = services.grab_case(actor=worker, case=case, now=at + step)
                else:
                    case = services.accept_case(actor=users.get("staff"), case=case, now=at + step)
            if stage >= 1 and case.status == "assigned":
                case = services.accept_case(actor=case.assignee, case=case, now=at + step)
            if stage >= 2:
                case = services.start_case(actor=case.assignee, case=case, now=at + 2 * step)
            if stage >= 3:
                case = services.resolve_case(actor=case.assignee, case=case, result=rng.choice(RESULTS),
                                             now=at + 3 * step)
            if stage >= 4 and reporter is not None:
                rating = rng.choice([5, 5, 5, 4, 4, 3, 2])
                case = services.confirm_and_rate(actor=reporter, case=case, rating=rating,
                                                 comment=COMMENTS[rating], now=at + 4 * step)
        except NotAllowed:
            pass
        return case

    cases = []
    for i in range(28):
        at = start + dt.timedelta(hours=i * 24 + rng.randint(0, 12))
        category, title, description = REPORTS[i % len(REPORTS)]
        household = households[i % len(households)] if i < 26 else next(
            h for h in households if h.grid.code == "G0101")  # the newest wait in the demo worker's list
        reporter = resident if i % 3 == 0 or not anonymous else None
        case = services.submit_case(actor=reporter, channel="snap", category=category, title=title,
                                    description=description, compound=household.building.compound,
                                    address=f"{household.building.compound.name}{household.building.number}号楼",
                                    latitude=39.6080 + rng.random() / 100, longitude=109.7810 + rng.random() / 100,
                                    now=at)
        age_days = (now - at).days
        # Older cases are further along; the last few days' stay open (some of them overdue).
        stage = 4 if age_days > 12 else 3 if age_days > 6 else 0 if i >= 26 else rng.choice([0, 1, 2])
        cases.append(run(case, stage, at, reporter))
    for i, (category, title, description) in enumerate(PRAISES + [REPORTS[0]]):
        household = households[10 + i]
        channel = "outdoor_report" if category != "praise" else "outdoor_praise"
        at = start + dt.timedelta(days=5 + i * 6)
        case = services.submit_case(actor=resident, channel=channel, category=category, title=title,
                                    description=description, household=household, now=at)
        run(case, 4, at, resident)
    communities = list(Community.objects.order_by("code")[:2])
    for i, (category, title, description) in enumerate(SUGGESTIONS):
        at = start + dt.timedelta(days=8 + i * 9)
        place = {"community": communities[i]} if i < len(communities) else {"street": Street.objects.first()}
        case = services.submit_case(actor=resident, channel="suggestion", category=category, title=title,
                                    description=description, now=at, **place)
        run(case, 3 if i == 0 else 1, at, resident)

    hotline, _key = demo_integration(admin, name=INTEGRATIONS[0][0], kind=INTEGRATIONS[0][1])
    for i, (category, title, description) in enumerate(HOTLINE):
        household = households[20 + i]
        at = now - dt.timedelta(days=3 - i, hours=2)
        case = services.submit_case(actor=None, channel="hotline", integration=hotline, external_id=f"12345-{i + 1:06d}",
                                    category=category, title=title, description=description,
                                    compound=household.building.compound, now=at)
        if i == 0:  # the same problem came in as a snap report too: linked, answered once
            snap = services.submit_case(actor=resident, channel="snap", category=category, title="晚上工地施工太吵",
                                        description="晚上十一点还在打桩。", compound=household.building.compound,
                                        now=at + dt.timedelta(minutes=40))
            services.link_duplicate(actor=admin, case=snap, parent=case,
                                    now=at + dt.timedelta(hours=1))
    services.escalate_overdue(now=now)
    services.auto_close(now=now)  # as the periodic sweep would have


def demo_integration(admin, *, name: str, kind: str):
    """The demo's integration of this name, with a new key (returned; shown once)."""
    from modules.cases.intake.integrations import create_integration, rotate_key
    from modules.cases.models import Integration

    existing = Integration.objects.filter(name=name).first()
    if existing is None:
        return create_integration(actor=admin, name=name, kind=kind)
    return existing, rotate_key(actor=admin, integration=existing)
