"""Module spec: Participation (码上参与).

Its pages, API and tasks arrive with the issue that builds this module; the spec, configuration
schema and dependencies are fixed now so districts can be configured from day one."""
from modules.spec import ModuleSpec

SPEC = ModuleSpec(
    key="participation",
    name_zh="码上参与",
    name_en="Participation",
    description_zh="码上协商、投票、问卷调查、志愿者招募",
    description_en="Consultations, votes, surveys, volunteer drives",
    depends=("registry",),
    always_on=False,
    config_schema={
        "type": "object",
        "title": "码上参与设置",
        "additionalProperties": False,
        "properties": {
            "vote_requires_binding": {"type": "boolean", "default": True,
                                      "title": "投票须已绑定住户", "title_en": "Voting needs a bound household",
                                      "description": "只有绑定了范围内住户的居民才能投票",
                                      "description_en": "Only residents bound to a household in scope may vote"},
            "survey_max_questions": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50,
                                     "title": "问卷最多题数", "title_en": "Most questions in a survey"},
        },
    },
)
