"""Module spec: Civic points (品德积分) — a versioned rulebook, an append-only ledger with balances,
the points committee (maker–checker, quorum), appeals, award batches, honour tiers and the compound
civility score, benefits per tier from providers and the honour list."""
from modules.spec import ModuleSpec, NavEntry, PeriodicTask

SPEC = ModuleSpec(
    key="points",
    name_zh="品德积分",
    name_en="Civic points",
    description_zh="积分规则、台账、审查委员会、批次、荣誉等级与权益",
    description_en="Rulebook, ledger, committee, batches, tiers and benefits",
    depends=("registry",),
    always_on=False,
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "material_points": {"type": "boolean", "default": False,
                                "description": "Keep a separate material-points balance"},
            "sms_on_award": {"type": "boolean", "default": True},
            "committee_quorum": {"type": "integer", "minimum": 1, "maximum": 15, "default": 2},
            "batch_needs_committee": {"type": "boolean", "default": True,
                                      "description": "Every award batch goes to the committee first"},
            "appeal_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 30,
                            "description": "Days after posting during which a resident may appeal an entry"},
            "household_awards": {"type": "string", "enum": ["members", "head"], "default": "members",
                                 "description": "Who a reported or praised household's points go to"},
            "verified_report_unmapped": {
                "type": "string", "enum": ["general_rule", "nothing"], "default": "general_rule",
                "description": "A verified report whose case category no automatic rule names: credit it under "
                               "the rule that names no category, or give no points"},
            "compound_score": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "window_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 365},
                    "praise_weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 2},
                    "report_weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 1},
                    "offence_weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 3},
                },
            },
            "tiers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key", "name_zh", "min_points"],
                    "properties": {
                        "key": {"type": "string", "pattern": "^[a-z0-9_]{1,20}$"},
                        "name_zh": {"type": "string", "minLength": 1, "maxLength": 20},
                        "name_en": {"type": "string", "maxLength": 40},
                        "min_points": {"type": "integer", "minimum": 0},
                    },
                },
                "default": [
                    {"key": "bronze", "name_zh": "铜牌居民", "name_en": "Bronze", "min_points": 100},
                    {"key": "silver", "name_zh": "银牌居民", "name_en": "Silver", "min_points": 300},
                    {"key": "gold", "name_zh": "金牌居民", "name_en": "Gold", "min_points": 600},
                ],
            },
        },
    },
    api_urls="modules.points.api_urls",
    portal_urls="modules.points.urls",
    nav=(
        NavEntry("我的积分", "My points", "points:home", icon="⭐", roles=("resident",)),
        NavEntry("荣誉权益", "Tier benefits", "points:benefits", icon="🎁", roles=("resident",)),
        NavEntry("光荣榜", "Honour list", "points:honour", icon="🏅"),
        NavEntry("积分申报", "Propose points", "points:propose", icon="✍", staff=True,
                 roles=("district_admin", "community_staff", "grid_worker", "grid_worker_part_time",
                        "grid_worker_sector", "committee_member")),
        NavEntry("积分审查", "Points committee", "points:committee", icon="⚖", staff=True,
                 roles=("committee_member", "district_admin")),
        NavEntry("积分批次", "Award batches", "points:batches", icon="📦", staff=True,
                 roles=("district_admin", "community_staff", "committee_member")),
        NavEntry("积分规则", "Points rulebook", "points:rules", icon="📘", staff=True, roles=("district_admin",)),
        NavEntry("权益提供方", "Benefit providers", "points:providers", icon="🏫", staff=True,
                 roles=("district_admin",)),
    ),
    handlers="modules.points.handlers",
    periodic_tasks=(PeriodicTask("modules.points.tasks.resume_stalled_batches", 60),
                    PeriodicTask("modules.points.tasks.refresh_compound_scores", 600)),
    kpis={"pending_proposals": "modules.points.committee.selectors.pending_proposals_kpi",
          "batches_running": "modules.points.batches.selectors.batches_running_kpi"},
    seed="modules.points.ledger.rules.seed",
    demo="modules.points.demo.seed_demo",
)
