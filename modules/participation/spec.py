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
        "additionalProperties": False,
        "properties": {
            "vote_requires_binding": {"type": "boolean", "default": True,
                                      "description": "Only residents bound to a household in scope may vote"},
            "survey_max_questions": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
        },
    },
)
