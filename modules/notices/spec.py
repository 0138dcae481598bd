"""Module spec: Notices (政策宣传 / 资讯) — policy and news items for residents."""
from modules.spec import ModuleSpec, NavEntry

SPEC = ModuleSpec(
    key="notices",
    name_zh="政策宣传",
    name_en="Notices",
    description_zh="政策、资讯与社区通知",
    description_en="Policy and news items for residents",
    promise_zh="阅读政策通知",
    promise_en="read the notices",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "categories": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^[a-z_]{2,20}$"},
                "default": ["policy", "news", "event"],
                "description": "Categories a notice can be filed under",
            },
            "max_pinned": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
        },
    },
    api_urls="modules.notices.api_urls",
    portal_urls="modules.notices.urls",
    nav=(NavEntry("政策宣传", "Notices", "notices:list", icon="📢"),),
    kpis={"published_notices": "modules.notices.selectors.published_count"},
    handlers="modules.notices.handlers",
    seed="modules.notices.services.seed",
)
