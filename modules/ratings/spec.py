"""Module spec: Ratings (好差评) — officials and merchants rated through their codes and through the
cases they handle, to the national 好差评 scheme (国办发〔2019〕51号; GB/T 39734, 39735): one ledger
across channels, one rating per rater, subject and period, anti-gaming holds, a callback (回访) for
every bad rating, appeals, rankings and the yearly star merchants.

Sub-packages: ``ledger`` (rating, one-per-period, tallies), ``integrity`` (anti-gaming rules and the
review of held ratings), ``followup`` (callbacks, appeals, 追评, merchants' replies), ``reports``
(scores, rankings, trends, charts, Excel, star merchants). Events it publishes and handles:
docs/ratings.md."""
from modules.spec import ModuleSpec, NavEntry, PeriodicTask

_LEVEL = {"type": "integer", "minimum": 1, "maximum": 5}


def _dimension_list(title_zh: str, title_en: str, default: list[dict]) -> dict:
    return {
        "type": "array", "title": title_zh, "title_en": title_en, "minItems": 1, "maxItems": 10,
        "description": "每项一个分项；代码用于统计，改名不影响历史",
        "description_en": "One row per dimension; the code keys the figures, a new name keeps the history",
        "default": default,
        "items": {
            "type": "object", "additionalProperties": False, "required": ["key", "name_zh"],
            "properties": {
                "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,23}$", "title": "代码", "title_en": "Code"},
                "name_zh": {"type": "string", "minLength": 1, "maxLength": 20, "title": "名称", "title_en": "Name (zh)"},
                "name_en": {"type": "string", "maxLength": 40, "title": "英文名称", "title_en": "Name (en)"},
            },
        },
    }


OFFICIAL_DIMENSIONS = [
    {"key": "duty", "name_zh": "履职尽责", "name_en": "Duty performance"},
    {"key": "style", "name_zh": "工作作风", "name_en": "Work style"},
    {"key": "efficiency", "name_zh": "办事效率", "name_en": "Efficiency"},
    {"key": "fairness", "name_zh": "公平公正", "name_en": "Fairness"},
    {"key": "integrity", "name_zh": "廉洁自律", "name_en": "Integrity"},
]
MERCHANT_DIMENSIONS = [
    {"key": "attitude", "name_zh": "服务态度", "name_en": "Service attitude"},
    {"key": "environment", "name_zh": "经营环境", "name_en": "Environment"},
    {"key": "quality", "name_zh": "商品质量", "name_en": "Quality of goods"},
]

SPEC = ModuleSpec(
    key="ratings",
    name_zh="好差评",
    name_en="Ratings",
    description_zh="干部与商户的好差评：扫码评价、差评回访、申诉、排名与星级商户",
    description_en="Officials and merchants rated by scan; callbacks, appeals, rankings and star merchants",
    promise_zh="扫码评价干部和商户",
    promise_en="rate officials and merchants",
    depends=("registry", "codes"),
    always_on=False,
    code_kinds=("official", "merchant", "stall"),
    nav=(
        NavEntry("我的评价", "My ratings", "ratings:mine", icon="⭐", roles=("resident",)),
        NavEntry("我的好差评", "How I am rated", "ratings:my-official", icon="📊", roles=("official",)),
        NavEntry("店铺评价", "My shop's ratings", "ratings:my-merchant", icon="🏪", roles=("merchant",)),
        NavEntry("部门评价", "My department", "ratings:department", icon="🏢", roles=("official", "district_admin"),
                 staff=True),
        NavEntry("差评回访", "Callbacks", "ratings:follow-ups", icon="☎️",
                 roles=("district_admin", "community_staff", "grid_worker", "grid_worker_part_time",
                        "grid_worker_sector", "official"), staff=True),
        NavEntry("待复核评价", "Held ratings", "ratings:held", icon="🛡", roles=("district_admin", "community_staff"),
                 staff=True),
        NavEntry("评价申诉", "Appeals", "ratings:appeals", icon="⚖️", roles=("district_admin",), staff=True),
        NavEntry("评价排名", "Rankings", "ratings:rankings", icon="🏆", roles=("district_admin", "community_staff"),
                 staff=True),
        NavEntry("星级商户", "Star merchants", "ratings:stars", icon="🌟", roles=("district_admin", "community_staff"),
                 staff=True),
    ),
    periodic_tasks=(
        # the anti-gaming pass over the whole ledger (what the per-rating checks missed, e.g. two racing
        # submissions); 4-7 s at 600,000 ratings
        PeriodicTask("modules.ratings.integrity.tasks.scan_periodic", 6 * 3600),
        PeriodicTask("modules.ratings.integrity.tasks.resume_scans", 60),
        PeriodicTask("modules.ratings.reports.tasks.award_yearly_stars", 86400),
    ),
    handlers="modules.ratings.handlers",
    api_urls="modules.ratings.api_urls",
    portal_urls="modules.ratings.urls",
    code_actions="modules.ratings.code_actions",
    demo="modules.ratings.demo.seed_demo",
    config_schema={
        "type": "object",
        "title": "好差评设置",
        "additionalProperties": False,
        "properties": {
            "official_dimensions": _dimension_list("干部评价分项", "Dimensions of an official", OFFICIAL_DIMENSIONS),
            "merchant_dimensions": _dimension_list("商户评价分项", "Dimensions of a merchant", MERCHANT_DIMENSIONS),
            "raters": {"type": "string", "enum": ["bound_residents", "verified_phone"], "default": "bound_residents",
                       "title": "谁可以评价", "title_en": "Who may rate",
                       "enum_titles": {"bound_residents": "已绑定住户的登录居民", "verified_phone": "任何验证过手机号的人"},
                       "enum_titles_en": {"bound_residents": "signed-in residents bound to a household",
                                          "verified_phone": "anyone with a verified phone"}},
            "period": {"type": "string", "enum": ["day", "week", "month", "quarter", "year"], "default": "month",
                       "title": "评价周期", "title_en": "Rating period",
                       "enum_titles": {"day": "每天", "week": "每周", "month": "每月", "quarter": "每季度", "year": "每年"},
                       "enum_titles_en": {"day": "a day", "week": "a week", "month": "a month",
                                          "quarter": "a quarter", "year": "a year"},
                       "description": "同一人对同一对象每个周期只计一次评价；周期内改评以新代旧",
                       "description_en": "One rating per rater and subject in each period; a changed mind "
                                         "within it replaces the earlier rating"},
            "follow_up_working_days": {"type": "integer", "minimum": 1, "maximum": 60, "default": 15,
                                       "title": "差评回访时限（工作日）", "title_en": "Follow up a bad rating within (working days)",
                                       "description": "按本区工作日历计算",
                                       "description_en": "Counted on the district's working calendar"},
            "min_ratings_for_ranking": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10,
                                        "title": "参与排名的最少评价数", "title_en": "Fewest ratings to be ranked",
                                        "description": "评价数不足的对象只显示数量，不参与排名",
                                        "description_en": "A subject with fewer is shown with its count, not ranked"},
            "integrity": {
                "type": "object", "title": "防刷评规则", "title_en": "Anti-gaming rules", "additionalProperties": False,
                "properties": {
                    "burst_minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 60,
                                      "title": "集中评价的时间窗（分钟）", "title_en": "Burst window (minutes)"},
                    "burst_count": {"type": "integer", "minimum": 2, "maximum": 10000, "default": 30,
                                    "title": "时间窗内同一对象评价数超过", "title_en": "Ratings of one subject in the window above"},
                    "same_source_max": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3,
                                        "title": "同一户、设备或网络每周期最多评价人数",
                                        "title_en": "Raters per subject and period from one household, device or network"},
                    "flag_colleagues": {"type": "boolean", "default": True,
                                        "title": "同部门同事或家人评价须复核",
                                        "title_en": "Hold ratings by the subject's colleagues or family"},
                    "swing_window": {"type": "integer", "minimum": 3, "maximum": 1000, "default": 10,
                                     "title": "突变检测：近期评价数", "title_en": "Swing: recent ratings looked at"},
                    "swing_drop": {"type": "number", "minimum": 0.5, "maximum": 4, "default": 1.5,
                                   "title": "突变检测：近期均分比历史低于", "title_en": "Swing: recent average below history by"},
                    "swing_history_min": {"type": "integer", "minimum": 5, "maximum": 10000, "default": 20,
                                          "title": "突变检测：最少历史评价数", "title_en": "Swing: fewest earlier ratings"},
                },
            },
            "stars": {
                "type": "object", "title": "年度星级商户规则", "title_en": "Yearly star merchants",
                "additionalProperties": False,
                "properties": {
                    "min_ratings": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 30,
                                    "title": "全年最少评价数", "title_en": "Fewest ratings in the year"},
                    "min_average": {"type": "number", "minimum": 1, "maximum": 5, "default": 4.5,
                                    "title": "最低平均分", "title_en": "Lowest average"},
                    "max_bad_share": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.05,
                                      "title": "差评占比不超过", "title_en": "Largest share of bad ratings"},
                    "five_star_average": {"type": "number", "minimum": 1, "maximum": 5, "default": 4.9,
                                          "title": "五星商户最低平均分", "title_en": "Lowest average for five stars"},
                },
            },
        },
    },
    audit_actions={
        "ratings.rate": ("评价", "Rated"),
        "ratings.replace": ("改评", "Changed a rating"),
        "ratings.hold": ("评价待复核", "Held a rating for review"),
        "ratings.release": ("复核通过计入", "Counted a held rating"),
        "ratings.reject": ("复核不计入", "Rejected a held rating"),
        "ratings.follow_up.callback": ("差评回访", "Recorded a callback"),
        "ratings.appeal": ("评价申诉", "Appealed a rating"),
        "ratings.appeal.decide": ("申诉裁定", "Decided an appeal"),
        "ratings.follow_on": ("追评", "Added a follow-up rating"),
        "ratings.reply": ("商户回复", "Merchant replied"),
        "ratings.stars.award": ("评定星级商户", "Awarded star merchants"),
        "ratings.stars.revoke": ("撤销星级", "Revoked a star award"),
        "ratings.scan": ("防刷评复查", "Anti-gaming pass"),
    },
)
