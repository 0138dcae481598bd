"""The ratings module's demo (``SPEC.demo``): eighteen months of ratings of the district's officials
and merchants by its residents, made through the real services (so the anti-gaming rules, the
follow-ups and the tallies are what they would be), then what follows them: callbacks of the older
bad ratings, a held cluster from one phone and a colleague's rating for the review queue, an appeal
decided and one pending, merchants' replies, a 追评, and last year's star merchants.

The demo resident (``resident``) rates too, so "my ratings" shows a bad rating with its callback's
outcome. Idempotent: a district that already has ratings from codes gets none."""
from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

RATERS = 60
MONTHS = 18
OFFICIAL_COMMENTS = {5: ["办事认真负责，态度很好。", "上门走访很耐心，问题当场解决。", "手续一次讲清楚，不用来回跑。"],
                     4: ["态度不错，办理也及时。", "总体满意，希望再快一点。"],
                     3: ["基本解决了，就是等的时间长。", ""],
                     2: ["电话打了好几次才有人回。", "推来推去，没人负责。"],
                     1: ["答应的事情一直没办，态度也不好。"]}
MERCHANT_COMMENTS = {5: ["干净卫生，老板很热情。", "价格公道，明码标价。", "味道好，分量足。"],
                     4: ["环境不错，就是人多要排队。", "服务挺好。"],
                     3: ["一般，还可以。", ""],
                     2: ["店门口占道堆放杂物。", "价格没有标清楚。"],
                     1: ["卫生太差，餐具有污渍。"]}
CALLBACK_NOTES = {"fixed_now": "已电话回访居民，问题已现场整改，居民表示认可。",
                  "fixed_by_deadline": "已回访居民，说明整改计划，承诺限期整改到位。",
                  "explained": "已回访并向居民解释政策规定和办理流程，居民表示理解。"}


def seed_demo(*, district, admin, rng_seed: str) -> None:
    from modules.ratings.ledger.models import Rating

    if Rating.objects.exclude(channel="case").exists():
        return
    rng = random.Random(f"ratings-{rng_seed}")
    raters = demo_raters(admin, rng=rng)
    if not raters:
        return
    now = timezone.now()
    seed_ratings(raters, rng=rng, now=now)
    seed_review_queue(raters, now=now)
    seed_follow_ups(admin, rng=rng, now=now)
    seed_resident(admin, now=now)
    seed_appeals_and_replies(admin, now=now)
    from modules.ratings.reports.services import award_stars

    award_stars(actor=admin, year=timezone.localdate().year - 1, now=now)


def demo_raters(admin, *, rng: random.Random) -> list:
    """Accounts for RATERS of the district's registered residents who have a phone and a household (the
    way a resident's first sign-in by phone makes one), each linked to their resident."""
    from kernel.services import assign_role
    from modules.registry import services as registry
    from modules.registry.models import Resident

    User = get_user_model()
    residents = list(Resident.objects.filter(user__isnull=True, memberships__ended_at__isnull=True)
                     .exclude(phone_index__isnull=True).exclude(phone_index="").distinct().order_by("id")[:RATERS * 3])
    rng.shuffle(residents)
    users = []
    for resident in residents[:RATERS]:
        with transaction.atomic():
            user = User(username=f"rater{resident.pk}", display_name=resident.name,
                        phone_encrypted=resident.phone_encrypted, phone_index=resident.phone_index)
            user.set_unusable_password()
            user.save()
            assign_role(actor=admin, user=user, role="resident")
            registry.link_account(actor=admin, resident=resident, user=user)
        users.append(user)
    return users


def _months(now: dt.datetime) -> list[dt.date]:
    first = timezone.localtime(now).date().replace(day=1)
    out = []
    for _ in range(MONTHS):
        out.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return sorted(out)


def _moment(rng: random.Random, month: dt.date, now: dt.datetime) -> dt.datetime:
    day = rng.randint(1, 28)
    at = timezone.make_aware(dt.datetime(month.year, month.month, day, rng.randint(8, 20), rng.randint(0, 59)))
    return min(at, now - dt.timedelta(minutes=rng.randint(5, 600)))


def _level(rng: random.Random, quality: float) -> int:
    """A level for a subject whose share of 非常满意 is ``quality``; the rest mostly 满意, few bad."""
    x = rng.random()
    if x < quality:
        return 5
    rest = (x - quality) / (1 - quality)
    return 4 if rest < 0.6 else 3 if rest < 0.82 else 2 if rest < 0.94 else 1


def _scores(rng: random.Random, kind: str, level: int) -> dict:
    from modules.ratings.config import dimensions

    return {d["key"]: max(1, min(5, level + rng.choice([0, 0, 0, 1, -1]))) for d in dimensions(kind)}


def seed_ratings(raters: list, *, rng: random.Random, now: dt.datetime) -> None:
    """Every month, a few residents rate each official and more rate each merchant (one rating per
    resident, subject and period); each subject has its own quality, so the rankings mean something."""
    from modules.ratings.ledger.services import submit_rating
    from modules.registry.models import Merchant, Official

    subjects = [("official", o) for o in Official.objects.filter(active=True).select_related("department")]
    subjects += [("merchant", m) for m in Merchant.objects.filter(active=True).select_related("grid")]
    quality = {(kind, s.pk): rng.uniform(0.45, 0.97) for kind, s in subjects}
    for kind, s in subjects[-4:-1]:  # a few merchants everyone loves: the star merchants
        quality[(kind, s.pk)] = rng.uniform(0.93, 0.99)
    for month in _months(now):
        for kind, subject in subjects:
            count = rng.randint(1, 4) if kind == "official" else rng.randint(5, 9)
            for rater in rng.sample(raters, count):
                if subject_is_own(rater, kind, subject):
                    continue
                level = _level(rng, quality[(kind, subject.pk)])
                comments = (OFFICIAL_COMMENTS if kind == "official" else MERCHANT_COMMENTS)[level]
                submit_rating(actor=rater, level=level, scores=_scores(rng, kind, level), comment=rng.choice(comments),
                              channel=f"{kind}_code", device_id=f"demo-phone-{rater.pk}",
                              client_ip=f"10.{rater.pk // 200 % 250}.{rater.pk % 200}.9",
                              now=_moment(rng, month, now), **{kind: subject})


def subject_is_own(user, kind: str, subject) -> bool:
    return (subject.user_id == user.pk) if kind == "official" else (subject.owner_id == user.pk)


def seed_review_queue(raters: list, *, now: dt.datetime) -> None:
    """Five residents rate one official from one phone within minutes (the rules hold the ones past the
    district's limit), and a colleague rates the demo official (held as a colleague's rating)."""
    from modules.ratings.ledger.services import submit_rating
    from modules.registry.models import Official

    target = Official.objects.filter(active=True).order_by("-id").first()
    if target is None:
        return
    for i, rater in enumerate(raters[-5:]):
        submit_rating(actor=rater, official=target, level=1, scores={}, comment="态度差！", channel="official_code",
                      device_id="demo-shared-phone", client_ip="10.250.1.9",
                      now=now - dt.timedelta(hours=3, minutes=10 - 2 * i))
    # A resident who works in the demo official's department rates him: a colleague's rating, held.
    official_user = get_user_model().objects.filter(username="official").first()
    boss = Official.objects.filter(user=official_user).select_related("department").first() if official_user else None
    if boss is not None:
        from modules.registry import services as registry

        colleague = raters[0]
        from modules.codes.services import issue_codes

        official = registry.create_official(actor=None, name=colleague.display_name, department=boss.department,
                                            post="科员", user=colleague)
        issue_codes(actor=None, official=official)  # every official has a code to be rated by
        submit_rating(actor=colleague, official=boss, level=5, comment="科长工作认真负责。", channel="official_code",
                      device_id=f"demo-phone-{colleague.pk}", client_ip="10.251.1.9", now=now - dt.timedelta(hours=5))


def seed_follow_ups(admin, *, rng: random.Random, now: dt.datetime) -> None:
    """Callbacks of the bad ratings older than ten days (the newer ones wait, as work to do)."""
    from modules.ratings.followup.models import FollowUp
    from modules.ratings.followup.services import record_callback

    outcomes = list(CALLBACK_NOTES)
    for follow_up in (FollowUp.objects.filter(status="open", rating__created_at__lt=now - dt.timedelta(days=10))
                      .select_related("rating").order_by("rating__created_at")):
        outcome = rng.choice(outcomes)
        at = follow_up.rating.created_at + dt.timedelta(days=rng.randint(1, 6))
        fix_by = (timezone.localtime(at) + dt.timedelta(days=14)).date() if outcome == "fixed_by_deadline" else None
        record_callback(actor=admin, follow_up=follow_up, outcome=outcome, note=CALLBACK_NOTES[outcome], reached=True,
                        fix_by=fix_by, now=at)


def seed_resident(admin, *, now: dt.datetime) -> None:
    """The demo resident rated two officials and a merchant this month; the bad one was called back."""
    from modules.ratings.followup.services import record_callback
    from modules.ratings.ledger.services import submit_rating
    from modules.registry.models import Merchant, Official

    resident = get_user_model().objects.filter(username="resident").first()
    if resident is None:
        return
    officials = list(Official.objects.filter(active=True).exclude(user=resident).order_by("id")[:2])
    merchant = Merchant.objects.filter(active=True, kind="shop").exclude(owner=resident).order_by("id").first()
    made = []
    for official, level, comment, hours in ((officials[0], 5, "上门走访很耐心，问题当场解决。", 50),
                                            (officials[-1], 2, "反映的问题拖了两周没人回复。", 30)):
        made.append(submit_rating(actor=resident, official=official, level=level, comment=comment,
                                  channel="official_code", device_id="demo-resident-phone", client_ip="10.252.1.9",
                                  now=now - dt.timedelta(hours=hours)))
    if merchant is not None:
        submit_rating(actor=resident, merchant=merchant, level=4, comment="服务挺好。", channel="merchant_code",
                      device_id="demo-resident-phone", client_ip="10.252.1.9", now=now - dt.timedelta(hours=20))
    bad = made[-1]
    follow_up = getattr(bad, "follow_up", None)
    if follow_up is not None and follow_up.status == "open":
        record_callback(actor=admin, follow_up=follow_up, outcome="fixed_now", note=CALLBACK_NOTES["fixed_now"],
                        reached=True, now=now - dt.timedelta(hours=4))


def seed_appeals_and_replies(admin, *, now: dt.datetime) -> None:
    """The demo official appeals two bad ratings of theirs (one decided, one pending); the demo merchant
    replies to its newest ratings; one rater adds a 追评 after the callback."""
    from modules.ratings.followup.services import add_follow_on, decide_appeal, file_appeal, save_reply
    from modules.ratings.ledger.models import Rating

    User = get_user_model()
    official_user = User.objects.filter(username="official").first()
    if official_user is not None:
        bad = list(Rating.objects.filter(official__user=official_user, state="counted", level__lte=2)
                   .order_by("created_at")[:2])
        if bad:
            appeal = file_appeal(actor=official_user, rating=bad[0], reason="该居民反映的事项不属于本人职责，且当天本人不在岗。",
                                 now=bad[0].created_at + dt.timedelta(days=2))
            decide_appeal(actor=admin, appeal=appeal, decision="dismissed",
                          reason="经核实，该事项由本人经办，评价属实，维持原评价。",
                          now=bad[0].created_at + dt.timedelta(days=5))
        if len(bad) > 1:
            file_appeal(actor=official_user, rating=bad[1], reason="评价内容与事实不符，请核实。",
                        now=min(now, bad[1].created_at + dt.timedelta(days=1)))
    merchant_user = User.objects.filter(username="merchant").first()
    if merchant_user is not None:
        for rating in Rating.objects.filter(merchant__owner=merchant_user, state="counted").order_by("-created_at")[:4]:
            text = "感谢您的认可，欢迎常来！" if rating.level >= 4 else "抱歉给您带来不好的体验，我们已经整改，欢迎再来监督。"
            save_reply(actor=merchant_user, rating=rating, text=text, now=min(now, rating.created_at + dt.timedelta(hours=6)))
    done = (Rating.objects.filter(follow_up__status="done", follow_on__isnull=True, rater__isnull=False,
                                  subject_kind="merchant").order_by("-created_at").first())
    if done is not None and done.rater is not None:
        add_follow_on(actor=done.rater, rating=done, level=4, comment="整改后干净多了，点个赞。",
                      now=min(now, done.follow_up.called_at + dt.timedelta(days=3)))
