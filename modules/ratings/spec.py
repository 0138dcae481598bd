"""Module spec: Ratings (好差评).

Its pages, API and tasks arrive with the issue that builds this module; the spec, configuration
schema and dependencies are fixed now so districts can be configured from day one."""
from modules.spec import ModuleSpec

SPEC = ModuleSpec(
    key="ratings",
    name_zh="好差评",
    name_en="Ratings",
    description_zh="干部与商户的好差评",
    description_en="Good/bad reviews of officials and merchants",
    depends=("registry", "codes"),
    always_on=False,
    config_schema={
        "type": "object",
        "title": "好差评设置",
        "additionalProperties": False,
        "properties": {
            "follow_up_hours": {"type": "integer", "minimum": 1, "maximum": 240, "default": 48,
                                "title": "差评回访时限（小时）", "title_en": "Follow up a bad review within (hours)",
                                "description": "差评须在此时间内回访",
                                "description_en": "A bad review must be followed up within this time"},
            "one_rating_per_days": {"type": "integer", "minimum": 0, "maximum": 365, "default": 1,
                                    "title": "同一对象评价间隔（天）", "title_en": "Days between two ratings of the same one",
                                    "description": "同一居民对同一对象，间隔此天数才能再评；0 表示不限",
                                    "description_en": "A resident rates the same one again only after this many days; 0: no limit"},
        },
    },
)
