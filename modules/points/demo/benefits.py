"""Demo tier benefits (就学、就医、文化、纳税、就餐购物): five providers — a school, a hospital, a
cultural venue, a shop and the tax office — with one to three benefits each across the district's
tiers; a provider staff account ``provider`` (password ``DEMO_PASSWORD``) at the hospital, with a few
uses already recorded; and a share of the residents who reached a tier opted in to the honour list.

Made through the real services (audit entries included). Idempotent: providers and benefits are found
by name, the staff link is made once, opt-ins and uses only when there are none yet."""
from __future__ import annotations

import random

from django.contrib.auth import get_user_model
from django.db import connection, transaction

PROVIDER_USERNAME = "provider"

# (kind, name, address, phone, [(title, description, tier index 0/1/2, limit count, limit period)])
KANGBASHI = [
    ("school", "康巴什区第一小学", "康巴什区青春山街道文化西路 9 号", "0477-8581001", [
        ("课后托管优先安排", "子女课后托管名额优先安排", 0, 1, "year"),
        ("入学报名绿色通道", "子女入学报名资料优先审核，一次办结", 1, 1, "year"),
    ]),
    ("clinic", "康巴什区人民医院", "康巴什区滨河街道康和路 16 号", "0477-8592120", [
        ("挂号就诊优先", "门诊挂号、取药优先办理", 0, 2, "month"),
        ("免费健康体检", "每年一次常规健康体检", 1, 1, "year"),
        ("家庭医生上门服务", "家庭医生签约后上门随访", 2, 4, "year"),
    ]),
    ("culture", "鄂尔多斯大剧院", "康巴什区文化东路 3 号", "0477-8599000", [
        ("演出门票八折", "大剧院自营演出门票八折", 0, 2, "month"),
        ("公益演出免费观演", "每月公益演出免费票一张", 2, 1, "month"),
    ]),
    ("shop", "康巴什惠民超市", "康巴什区青春山街道商业街 12 号", "0477-8566688", [
        ("购物九五折", "店内商品（烟酒除外）九五折", 0, 1, "day"),
        ("就餐八八折", "超市美食广场就餐八八折", 1, 4, "month"),
    ]),
    ("tax", "国家税务总局鄂尔多斯市康巴什区税务局", "康巴什区政务服务中心二楼", "12366", [
        ("办税绿色通道", "办税服务厅优先叫号", 1, None, "none"),
        ("纳税辅导上门服务", "税务专管员上门辅导申报", 2, 1, "year"),
    ]),
]
LAIXI = [
    ("school", "莱西市实验小学", "莱西市水集街道烟台路 8 号", "0532-88481001", [
        ("入学报名绿色通道", "子女入学报名资料优先审核", 1, 1, "year"),
    ]),
    ("clinic", "莱西市人民医院", "莱西市水集街道青岛路 69 号", "0532-88485120", [
        ("挂号就诊优先", "门诊挂号、取药优先办理", 0, 2, "month"),
        ("免费健康体检", "每年一次常规健康体检", 2, 1, "year"),
    ]),
    ("culture", "莱西市文化馆", "莱西市望城街道文化路 1 号", "0532-88401234", [
        ("公益培训优先报名", "书法、舞蹈等公益培训优先报名", 0, 2, "year"),
        ("演出门票八折", "文化馆演出门票八折", 1, 2, "month"),
    ]),
    ("shop", "莱西惠民超市", "莱西市水集街道石岛路 20 号", "0532-88466688", [
        ("购物九五折", "店内商品（烟酒除外）九五折", 0, 1, "day"),
    ]),
    ("tax", "国家税务总局莱西市税务局", "莱西市政务服务中心一楼", "12366", [
        ("办税绿色通道", "办税服务厅优先叫号", 1, None, "none"),
    ]),
]


def _catalogue(rng_seed: str) -> list:
    if "laixi" in rng_seed:
        return LAIXI
    if "kangbashi" in rng_seed or "kbs" in rng_seed:
        return KANGBASHI
    name = getattr(connection.tenant, "name_zh", "") or "本区"  # any other district: the same, under its name
    return [(kind, title.replace("康巴什区", name).replace("鄂尔多斯", name).replace("康巴什", name), address.replace(
        "康巴什区", name), phone, perks) for kind, title, address, phone, perks in KANGBASHI]


def seed_benefits(admin, *, rng_seed: str) -> None:
    from accounts.services import create_user
    from kernel.demo import DEMO_PASSWORD
    from kernel.errors import DomainError
    from modules.points.benefits import selectors as sel
    from modules.points.benefits import services as benefits
    from modules.points.ledger.selectors import tiers
    from modules.points.models import Balance, Benefit, BenefitUse, HonourOptIn, Provider

    ladder = tiers()
    if not ladder:
        return
    rng = random.Random(f"benefits:{rng_seed}")
    User = get_user_model()
    with transaction.atomic():
        made: dict[str, Provider] = {}
        for kind, name, address, phone, perks in _catalogue(rng_seed):
            provider = Provider.objects.filter(name=name).first() or benefits.create_provider(
                actor=admin, name=name, kind=kind, address=address, phone=phone)
            made[kind] = provider
            for title, description, level, count, period in perks:
                if not Benefit.objects.filter(provider=provider, title=title).exists():
                    benefits.create_benefit(actor=admin, provider=provider, title=title, description=description,
                                            min_tier=ladder[min(level, len(ladder) - 1)]["key"], limit_count=count,
                                            limit_period=period)
        clerk = User.objects.filter(username=PROVIDER_USERNAME).first() or create_user(
            actor=admin, username=PROVIDER_USERNAME, password=DEMO_PASSWORD,
            display_name=f"{made['clinic'].name} 服务台")
        benefits.add_provider_staff(actor=admin, provider=made["clinic"], user=clerk)

        # residents who reached a tier, best first: about half of them opt in to the honour list
        reached = list(Balance.objects.filter(kind="civic", points__gte=ladder[0]["min_points"])
                       .exclude(resident__user__username="resident")  # the demo resident decides for themselves
                       .order_by("-points", "resident_id").values_list("resident_id", "points")[:200])
        if not HonourOptIn.objects.exists():
            from modules.registry.models import Resident

            for resident_id, _points in reached:
                if rng.random() < 0.5:
                    benefits.set_honour_opt_in(actor=admin, resident=Resident.objects.get(pk=resident_id),
                                               public=True, show_name="anonymous" if rng.random() < 0.3 else "masked",
                                               _check_actor=False)
        # a few uses at the hospital, so the provider's desk has a history
        if not BenefitUse.objects.exists():
            first = Benefit.objects.filter(provider=made["clinic"], min_tier=ladder[0]["key"]).first()
            for n, (resident_id, _points) in enumerate(reached[:4] if first is not None else []):
                try:
                    benefits.record_use(actor=clerk, token=sel.issue_token(resident_id), benefit=first,
                                        idempotency_key=f"demo:{n}")
                except DomainError:  # a limit or a tier the demo ledger did not foresee: no use, no harm
                    continue
