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
        "additionalProperties": False,
        "properties": {
            "follow_up_hours": {"type": "integer", "minimum": 1, "maximum": 240, "default": 48,
                                "description": "A bad review must be followed up within this time"},
            "one_rating_per_days": {"type": "integer", "minimum": 0, "maximum": 365, "default": 1},
        },
    },
)
