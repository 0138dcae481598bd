"""Demo points: six months of a believable ledger, made through the real services, so that every
points page and endpoint has something true to show — balances across the district's tiers, the
committee's queue, batches done and waiting, appeals waiting and decided, and the demo resident's own
history (张三, the "resident" account) with an appeal of their own.

- volunteering, blood donation, donations, good deeds and honours (文明家庭…) as the district's rulebook
  has them (Kangbashi's full template, or the smaller default one of Laixi); a rule the rulebook
  lacks is left out or replaced by one it has;
- deductions: littering, disorderly parking (乱扔垃圾/违停…), and one drink-driving −50 through the
  committee;
- batches: volunteer days and a fire drill for a whole community ("消防应急演练 全员+5"), approved by
  the committee and run; one more waiting for the committee;
- proposals waiting (one with a first approval), one rejected with its reason; a correction.

Entries carry the deed date (``occurred_on``) over the last six months; they are posted now (the
ledger is append-only and the services stamp ``posted_at``), oldest deed first.

Idempotent: a district that has the demo's entries gets nothing more. Everything is made in one
transaction; batches run in this process (the Celery task queued after commit finds them done)."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

KEY = "demo:"  # post_entry stores keys as "api:<key>", propose as "proposal:<key>"
DRILL_TITLE = "消防应急演练 全员+5"

VOLUNTEER = [  # rule code, what was done
    ("volunteer_service", "参加社区敬老院志愿服务"), ("volunteer_service", "参与小区环境卫生清扫"),
    ("volunteer_service", "协助社区疫苗接种点维持秩序"), ("volunteer_service", "为独居老人送餐上门"),
    ("volunteer_service", "参与社区图书角整理"), ("volunteer_service", "协助社区开展反诈宣传"),
    ("epidemic_volunteer", "参加社区疫情防控志愿服务"), ("environment_cleanup", "参加社区环境整治"),
    ("building_steward", "楼栋管家走访空巢老人"), ("traffic_civility_volunteer", "参加文明交通劝导"),
    ("public_safety_patrol", "参加群防群治夜间巡逻"), ("summer_class_volunteer", "在暑期公益课堂义务授课"),
]
MEDIUM = [  # direct postings of 5–20 points: rule code, reason, evidence
    ("blood_donation", "参加无偿献血", "无偿献血证"),
    ("charity_donation", "为困难群众爱心捐款", "社区慈善捐款收据"),
    ("return_lost_property", "拾到钱包主动交还失主", "失主感谢信"),
    ("helping_others", "帮助邻居搬运重物、照看孩子", "邻居证明"),
    ("care_minors", "长期辅导留守儿童功课", "社区出具的证明"),
]
BIG = [  # through the committee: rule code, reason, evidence
    ("good_deed", "深夜背突发疾病的邻居下楼就医", "邻居及社区证明"),
    ("good_deed", "帮助走失老人找到家人", "派出所情况说明"),
    ("good_deed", "义务维修小区健身器材和路灯", "物业及居民联名证明"),
    ("honour_civilised_family", "获评区级“文明家庭”", "区文明办表彰文件"),
    ("honour_good_neighbour", "获评“身边好人”", "区文明办表彰文件"),
    ("outstanding_volunteer", "获评社区“优秀志愿者”", "社区表彰决定"),
    ("heroic_act", "在滨河公园救起落水儿童", "派出所出具的见义勇为证明"),
    ("honour_moral_model", "获评市级“道德模范”", "市文明委表彰文件"),
]
SMALL_DEDUCT = [  # rule code(s) in order of preference, reason
    (("littering",), "在小区绿地乱扔垃圾，经劝导后再犯"),
    (("disorderly_parking", "uncivil_reported"), "小区门口违规停车，阻碍通行"),
    (("corridor_clutter", "uncivil_reported"), "楼道堆放纸箱杂物，多次劝导未清理"),
    (("uncivil_dog_keeping", "littering"), "遛狗未拴绳，未清理犬只粪便"),
]


@dataclass
class Event:
    day: dt.date
    resident_id: int
    code: str
    points: int
    reason: str
    evidence: str = ""
    committee: bool = False
    poster: object = None
    key: str = ""
    mark: str = ""  # a step the demo needs afterwards (appeal, correction)
    batch: dict | None = None  # a batch to make, approve and run on that day instead of one posting


@dataclass
class World:
    today: dt.date
    rng: random.Random
    versions: dict
    users: dict
    members: list
    places: dict  # resident id -> (grid code, community code)
    events: list = field(default_factory=list)
    marked: dict = field(default_factory=dict)

    def has(self, code: str) -> bool:
        return code in self.versions

    def first(self, codes) -> str | None:
        return next((c for c in codes if c in self.versions), None)

    def points(self, code: str, want: int) -> int:
        v = self.versions[code]
        return v.sign * max(v.min_points, min(v.max_points, abs(want)))

    def poster(self, resident_id: int):
        """Who posts for a resident: their grid worker or community staff, else the administrator."""
        grid, community = self.places.get(resident_id, ("", ""))
        u = self.users
        options = {"G0101": [u.get("grid"), u.get("staff")], "G0102": [u.get("parttime"), u.get("staff")]}.get(
            grid, [u.get("staff")] if community == "C01" else [])
        options = [o for o in options if o is not None] or [u["admin"]]
        return self.rng.choice(options)

    def add(self, days_ago: int, resident_id: int, code: str | None, want: int, reason: str, evidence: str = "",
            *, mark: str = "", poster=None) -> int:
        if not code or not self.has(code):
            return 0
        v = self.versions[code]
        if v.evidence_required and not evidence:
            evidence = "社区出具的证明"
        points = self.points(code, want)
        n = len(self.events)
        self.events.append(Event(self.today - dt.timedelta(days=max(0, days_ago)), resident_id, code, points, reason,
                                 evidence, committee=v.committee_required,
                                 poster=poster or self.poster(resident_id), key=f"{KEY}{resident_id}:{n}", mark=mark))
        return points


def seed_points(admin, *, rng_seed: str) -> None:
    from modules.points.ledger import scores, selectors
    from modules.points.ledger import services as ledger
    from modules.points.models import Batch, RuleVersion
    from modules.registry.models import Membership, Resident

    # Seeded once: the drill batch marks a seeded district (postings are idempotent by key in any case;
    # stored keys are hashes, so they can't be matched by prefix).
    if Batch.objects.filter(title=DRILL_TITLE).exists():
        return
    rows = (Membership.objects.filter(ended_at__isnull=True).order_by("resident_id", "id")
            .values_list("resident_id", "household__grid__code", "household__grid__community__code"))
    places: dict[int, tuple[str, str]] = {}
    for resident_id, grid, community in rows:
        places.setdefault(resident_id, (grid or "", community or ""))
    if not places:
        return
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["admin", "staff", "grid", "parttime",
                                                                       "committee", "resident"])}
    users.setdefault("admin", admin)
    versions = {v.rule.code: v for v in RuleVersion.objects.filter(is_current=True).select_related("rule")}
    me = Resident.objects.filter(user__username="resident").values_list("pk", flat=True).first()
    me = me if me in places else None
    world = World(today=ledger.local_today(), rng=random.Random(f"{rng_seed}:points"), versions=versions,
                  users=users, members=[], places=places)
    tiers = [t["min_points"] for t in selectors.tiers()][:3] or [100, 300, 600]
    while len(tiers) < 3:
        tiers.append(tiers[-1] * 2 + 50)
    with transaction.atomic():
        world.members = committee_members(admin, int(ledger.config()["committee_quorum"]))
        others = [i for i in sorted(places) if i != me]
        profiles = choose_profiles(world, others, tiers)
        from_batches = plan_batches(world, profiles, me)
        for resident_id, (profile, target) in profiles.items():
            if profile == "offender":
                plan_offender(world, resident_id)
            else:
                plan_one(world, resident_id, target - from_batches.get(resident_id, 0))
        plan_drunk_driving(world, [i for i, (p, _t) in profiles.items() if p == "offender"])
        if me is not None:
            plan_demo_resident(world, me, tiers[0] + 25 - from_batches.get(me, 0))
        post_events(world)
        pending_work(world, others)
    scores.refresh_compound_scores()  # the compound ranking on the honour page (the worker redoes it every 10 min)


def committee_members(admin, quorum: int) -> list:
    """The demo's committee: "committee" and, where the quorum needs more members, colleagues."""
    from accounts.services import create_user
    from kernel.demo import DEMO_PASSWORD
    from kernel.roles import Role
    from kernel.services import assign_role

    User = get_user_model()
    names = [("committee", "积分审查委员 吴刚"), ("committee2", "积分审查委员 陈静"), ("committee3", "积分审查委员 刘洋"),
             ("committee4", "积分审查委员 马丽"), ("committee5", "积分审查委员 高峰")]
    members = []
    for username, display in names[:max(2, quorum)]:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = create_user(actor=admin, username=username, password=DEMO_PASSWORD, display_name=display)
        assign_role(actor=admin, user=user, role=Role.COMMITTEE_MEMBER, scope_kind="district", scope_code="")
        members.append(user)
    return members


# --- planning ---------------------------------------------------------------------------------------------

PROFILES = (  # share of the chosen residents; attendance of volunteer days
    ("top", 0.02, 0.9), ("second", 0.05, 0.85), ("first", 0.3, 0.7), ("starter", 0.45, 0.25), ("offender", 0.05, 0.1),
)


def choose_profiles(world: World, ids: list[int], tiers: list[int]) -> dict[int, tuple[str, int]]:
    """About two thirds of the residents get a target balance: a few above the top tier, some in each
    tier, many with a little, a few offenders below zero."""
    rng = world.rng
    t1, t2, t3 = tiers
    chosen = [i for i in ids if rng.random() < 0.62]
    rng.shuffle(chosen)
    targets = {"top": lambda: t3 + rng.randint(5, 60), "second": lambda: rng.randint(t2 + 5, max(t2 + 6, (t2 + t3) // 2)),
               "first": lambda: rng.randint(t1 + 3, max(t1 + 4, t2 - 15)),
               "starter": lambda: rng.randint(3, max(4, t1 - 15)), "offender": lambda: 0}
    out: dict[int, tuple[str, int]] = {}
    at = 0
    for profile, share, _attendance in PROFILES:
        size = max(2 if profile in ("top", "offender") else 1, round(len(chosen) * share))
        for resident_id in chosen[at:at + size]:
            out[resident_id] = (profile, targets[profile]())
        at += size
    return out


BATCH_DAYS = [  # rule codes (first the rulebook has), title, reason, points, days ago
    (("volunteer_service",), "新春慰问孤寡老人志愿服务 +3", "参加新春慰问孤寡老人志愿服务", 3, 168),
    (("volunteer_service",), "“学雷锋”志愿服务日 参与居民+5", "参加“学雷锋”志愿服务日活动", 5, 140),
    (("tree_planting", "volunteer_service"), "社区义务植树 +3", "参加社区义务植树", 3, 115),
    (("anti_fraud_campaign", "volunteer_service"), "反诈宣传进小区 志愿者+3", "参加反诈宣传进小区活动", 3, 101),
    (("volunteer_service",), "垃圾分类宣传周 志愿者+3", "参加垃圾分类宣传周志愿服务", 3, 80),
    (("environment_cleanup", "volunteer_service"), "爱国卫生月 环境整治 +3", "参加爱国卫生月环境整治", 3, 66),
    (("volunteer_service",), "夏季防汛志愿巡查 +4", "参加夏季防汛志愿巡查", 4, 48),
    (("volunteer_service",), "“七一”社区文艺汇演服务 +3", "为社区文艺汇演做志愿服务", 3, 34),
]


def plan_batches(world: World, profiles: dict, me: int | None) -> dict[int, int]:
    """Volunteer days (the residents who came, listed) and a fire drill for a whole community (by
    place); returns the points each resident will get from them."""
    rng = world.rng
    admin, staff = world.users["admin"], world.users.get("staff") or world.users["admin"]
    attendance = {p: a for p, _s, a in PROFILES}
    got: dict[int, int] = {}
    for n, (codes, title, reason, points, days_ago) in enumerate(BATCH_DAYS):
        code = world.first(codes)
        if code is None:
            continue
        came = [i for i, (p, _t) in profiles.items() if rng.random() < attendance[p]]
        if me is not None and n in (1, 3):
            came.append(me)
        value = world.points(code, points)
        world.events.append(Event(world.today - dt.timedelta(days=days_ago), 0, code, value, reason, poster=admin,
                                  key=f"{KEY}batch:{n}", batch={"resident_ids": sorted(came), "title": title}))
        for i in came:
            got[i] = got.get(i, 0) + value
    code = world.first(("drill_participation",))
    if code:
        value = world.points(code, 5)
        world.events.append(Event(world.today - dt.timedelta(days=21), 0, code, value, "主动参加社区消防应急演练",
                                  poster=staff, key=f"{KEY}batch:drill",
                                  batch={"place": {"kind": "community", "code": "C01"}, "title": DRILL_TITLE}))
        for i, (_grid, community) in world.places.items():
            if community == "C01":
                got[i] = got.get(i, 0) + value
    return got


def plan_one(world: World, resident_id: int, gap: int) -> None:
    """A few deeds that bring the resident to their target: committee items for large gaps, then
    blood donation, donations, good turns and volunteering."""
    rng = world.rng
    bigs = [b for b in BIG if world.has(b[0])]
    mediums = [m for m in MEDIUM if world.has(m[0])]
    volunteer = [v for v in VOLUNTEER if world.has(v[0])]
    while gap >= 60 and bigs:
        fitting = [b for b in bigs if world.versions[b[0]].max_points >= min(gap, 90)] or bigs
        code, reason, evidence = rng.choice(fitting)
        gap -= world.add(rng.randint(10, 170), resident_id, code, gap, reason, evidence)
        if code != "good_deed":  # an honour is given once
            bigs = [b for b in bigs if b[0] != code]
    for _ in range(2):
        if gap < 8 or not mediums:
            break
        code, reason, evidence = mediums.pop(rng.randrange(len(mediums)))
        gap -= world.add(rng.randint(5, 175), resident_id, code, gap, reason, evidence)
    if gap >= 2 and volunteer:
        code, reason = rng.choice(volunteer)
        gap -= world.add(rng.randint(5, 175), resident_id, code, gap, reason)
    if rng.random() < 0.1:
        codes, reason = rng.choice(SMALL_DEDUCT)
        world.add(rng.randint(5, 150), resident_id, world.first(codes), rng.randint(1, 3), reason)


def plan_offender(world: World, resident_id: int) -> None:
    rng = world.rng
    for codes, reason in rng.sample(SMALL_DEDUCT, 2):
        world.add(rng.randint(5, 170), resident_id, world.first(codes), rng.randint(3, 5), reason)


def plan_drunk_driving(world: World, offenders: list[int]) -> None:
    if offenders and world.has("drunk_driving"):
        world.add(world.rng.randint(30, 120), offenders[0], "drunk_driving", 50, "醉酒驾驶机动车，被公安交警部门查处",
                  "公安交警部门行政处罚决定书")


def plan_demo_resident(world: World, resident_id: int, target: int) -> None:
    """张三's history: volunteering, blood donation, a donation, a good deed through the committee, an
    honour where the rulebook has one, a posting corrected by the committee, and two deductions — one
    appealed and refused, one appealed and waiting."""
    grid_worker = world.users.get("grid") or world.users["admin"]
    staff = world.users.get("staff") or world.users["admin"]
    total = 0
    total += world.add(160, resident_id, "volunteer_service", 3, "参加社区敬老院志愿服务", poster=grid_worker)
    total += world.add(130, resident_id, "blood_donation", 10, "参加无偿献血", "无偿献血证", poster=staff)
    total += world.add(100, resident_id, "good_deed", 20, "拾到钱包主动交还失主", "失主感谢信", poster=grid_worker)
    total += world.add(75, resident_id, "charity_donation", 5, "为困难群众爱心捐款", "社区慈善捐款收据", poster=staff)
    world.add(60, resident_id, "volunteer_service", 5, "参与小区环境卫生清扫（重复录入）", poster=staff, mark="correct")
    total += world.add(60, resident_id, "volunteer_service", 5, "参与小区环境卫生清扫", poster=grid_worker)
    total += world.add(40, resident_id, "honour_civilised_family", 30, "获评区级“文明家庭”", "区文明办表彰文件",
                       poster=staff)
    total += world.add(24, resident_id, "littering", 2, "在小区绿地乱扔垃圾", poster=grid_worker, mark="appeal_refused")
    total += world.add(9, resident_id, world.first(("disorderly_parking", "uncivil_reported", "corridor_clutter")), 3,
                       "小区门口违规停车，阻碍通行", poster=grid_worker, mark="appeal_pending")
    if world.has("waste_sorting") and world.versions["waste_sorting"].kind == "material":
        from modules.points.ledger.services import config

        if config().get("material_points"):
            for days in (20, 13, 6):
                world.add(days, resident_id, "waste_sorting", 1, "垃圾分类正确投放", poster=grid_worker)
    if target - total >= 2:
        world.add(15, resident_id, "good_deed", target - total, "连续三个月为楼内独居老人代买药品", "老人及家属证明",
                  poster=staff)


# --- carrying out ------------------------------------------------------------------------------------------

def approve(world: World, proposal) -> None:
    from modules.points.committee import services as proposals

    for member in world.members:
        proposal.refresh_from_db()
        if proposal.status != "pending":
            break
        if member.pk != proposal.proposed_by_id:
            proposals.approve_proposal(actor=member, proposal=proposal, note="情况属实")


def post_events(world: World) -> None:
    """Every planned deed, oldest first: staff post directly; committee rules are proposed and approved;
    batches are made, approved and run. A posting a cap or a rule refuses is left out, as it would be
    at the counter."""
    from kernel.errors import DomainError
    from modules.points.batches import services as batches
    from modules.points.committee import services as proposals
    from modules.points.ledger import services as ledger
    from modules.registry.models import Resident

    residents = Resident.objects.in_bulk({e.resident_id for e in world.events if e.batch is None})
    for event in sorted(world.events, key=lambda e: (e.day, e.key)):
        resident = residents.get(event.resident_id)
        try:
            if event.batch is not None:
                batch = batches.create_batch(actor=event.poster, rule=event.code, points=event.points,
                                             reason=event.reason, occurred_on=event.day, background=False,
                                             **event.batch)
                if batch.status == "awaiting":
                    approve(world, batch.proposal)
                batches.run_batch(batch_id=batch.pk)
                continue
            if event.committee:
                proposal = proposals.propose(actor=event.poster, resident=resident, rule=event.code,
                                            points=event.points, reason=event.reason, occurred_on=event.day,
                                            evidence=event.evidence, idempotency_key=event.key)
                approve(world, proposal)
                proposal.refresh_from_db()
                entry = proposal.entry
            else:
                entry = ledger.post_entry(actor=event.poster, resident=resident, rule=event.code,
                                            points=event.points, reason=event.reason, occurred_on=event.day,
                                            evidence=event.evidence, idempotency_key=event.key)
        except DomainError:
            continue
        if event.mark and entry is not None:
            world.marked[event.mark] = entry


def pending_work(world: World, ids: list[int]) -> None:
    """What waits for people in the demo: proposals (one half approved), a batch, appeals; and what was
    decided: a rejected proposal, a refused appeal, a correction."""
    from kernel.errors import DomainError
    from modules.points.batches import services as batches
    from modules.points.committee import appeals as appeal_services
    from modules.points.committee import services as proposals
    from modules.points.ledger import services as ledger
    from modules.registry.models import Resident

    rng = world.rng
    users = world.users
    admin = users["admin"]
    resident_user = users.get("resident")
    picks = rng.sample(ids, min(4, len(ids)))
    residents = Resident.objects.in_bulk(picks)
    pending = [
        ("heroic_act", 30, "在滨河公园救起落水儿童", "派出所出具的见义勇为证明", 4, False),
        ("good_deed", 10, "连续三个月为楼内独居老人代买药品", "老人及家属证明", 6, True),
        ("throwing_from_height", 20, "从六楼向下抛掷酒瓶，险些砸伤行人", "监控录像截图", 3, False),
        ("good_deed", 50, "称曾多次帮助邻居", "", 12, "reject"),
    ]
    for (code, want, reason, evidence, days_ago, then), resident_id in zip(pending, picks, strict=False):
        if not world.has(code):
            continue
        try:
            proposal = proposals.propose(actor=world.poster(resident_id), resident=residents[resident_id], rule=code,
                                        points=world.points(code, want), reason=reason,
                                        occurred_on=world.today - dt.timedelta(days=days_ago),
                                        evidence=evidence or "居民口述", idempotency_key=f"{KEY}pending:{code}:{want}")
            if then is True and len(world.members) > 1:
                proposals.approve_proposal(actor=world.members[-1], proposal=proposal, note="同意，待其他委员审核")
            elif then == "reject":
                proposals.reject_proposal(actor=world.members[0], proposal=proposal,
                                         reason="证据不足，请补充事迹材料后重新申报")
        except DomainError:
            continue
    if world.has("volunteer_service"):
        try:
            batches.create_batch(actor=users.get("staff") or admin, rule="volunteer_service",
                                 points=world.points("volunteer_service", 2), title="社区环境整治志愿服务 参与居民+2",
                                 reason="参加社区环境整治志愿服务", place={"kind": "grid", "code": "G0102"},
                                 occurred_on=world.today - dt.timedelta(days=2), background=False)
        except DomainError:
            pass
    member = world.members[0]
    if "correct" in world.marked:
        ledger.reverse_entry(actor=member, entry=world.marked["correct"], reason="重复录入，予以冲正")
    if resident_user is not None and "appeal_refused" in world.marked:
        appeal = appeal_services.file_appeal(actor=resident_user, entry=world.marked["appeal_refused"],
                                      reason="那天我出差不在家，不是我扔的")
        appeal_services.refuse_appeal(actor=member, appeal=appeal, reason="经查看监控录像，确认系本人所为，维持原决定")
    if resident_user is not None and "appeal_pending" in world.marked:
        appeal_services.file_appeal(actor=resident_user, entry=world.marked["appeal_pending"],
                             reason="当时是临时停车下车取快递，三分钟就开走了")
