"""The notices module's demo (``SPEC.demo``): each demo district's first notices, published through
the module's service. ``rng_seed`` names the demo district (``kangbashi``, ``dongsheng``, ``laixi``);
another district gets none. Idempotent: a notice whose title is there is not published again."""
from __future__ import annotations

NOTICES = {  # demo district -> [(title, category, body)]
    "kangbashi": [
        ("康巴什区品德积分管理办法发布", "policy",
         "品德积分分为加分项和减分项，加分项 51 项、减分项 33 项。居民可在“我的积分”中查看每一笔积分的来由。"),
        ("“码上解决”随手拍上线", "news", "发现身边的问题，拍照上报，网格员接诉即办，办理结果全程可查。"),
    ],
    "dongsheng": [("东胜区“好差评”服务上线", "news", "扫描干部码、商户码即可评价，差评件 24 小时内回访。")],
    "laixi": [("莱西市志愿服务积分兑换说明", "volunteer", "参加志愿服务可获得积分，积分可在合作商户兑换服务。")],
}


def seed_demo(*, district, admin, rng_seed: str) -> None:
    from modules.notices.models import Notice
    from modules.notices.services import publish_notice

    for title, category, body in NOTICES.get(rng_seed, []):
        if not Notice.objects.filter(title=title).exists():
            publish_notice(actor=admin, title=title, body=body, category=category)
