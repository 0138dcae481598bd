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
        "title": "政策宣传设置",
        "additionalProperties": False,
        "properties": {
            "categories": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^[a-z_]{2,20}$"},
                "default": ["policy", "news", "event"],
                "title": "栏目代码", "title_en": "Categories",
                "description": "每行一个栏目代码（小写英文字母和下划线）",
                "description_en": "Categories a notice can be filed under, one code a line",
                "examples": [["policy", "news", "event"]],
            },
            "category_labels": {
                "type": "object",
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 20},
                "default": {},
                "title": "通知分类名称", "title_en": "Category names",
                "description": "居民看到的各分类名称（政策、资讯、活动已有名称）",
                "description_en": "What residents read for each category (policy, news and event have names "
                                  "already)",
                "examples": [{"volunteer": "志愿服务"}],
            },
            "max_pinned": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3,
                           "title": "最多置顶条数", "title_en": "Most pinned notices"},
        },
    },
    api_urls="modules.notices.api_urls",
    portal_urls="modules.notices.urls",
    nav=(NavEntry("政策宣传", "Notices", "notices:list", icon="📢"),),
    kpis={"published_notices": "modules.notices.selectors.published_count"},
    handlers="modules.notices.handlers",
    seed="modules.notices.services.seed",
    demo="modules.notices.demo.seed_demo",
    audit_actions={
        "notice.publish": ("发布通知", "Notice published"),
        "notice.update": ("修改通知", "Notice changed"),
        "notice.withdraw": ("撤回通知", "Notice withdrawn"),
        "notice.announced": ("推送通知", "Notice announced"),
        "notice.seed": ("初始化示例通知", "Sample notices added"),
    },
)
