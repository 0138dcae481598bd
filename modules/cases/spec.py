"""Module spec: Cases (码上解决).

Its pages, API and tasks arrive with the issue that builds this module; the spec, configuration
schema and dependencies are fixed now so districts can be configured from day one."""
from modules.spec import ModuleSpec

SPEC = ModuleSpec(
    key="cases",
    name_zh="码上解决",
    name_en="Cases",
    description_zh="随手拍、户外码上报、纳谏、商户诉求、12345 接诉即办",
    description_en="Snap reports, outdoor-code reports, suggestions, hotline intake",
    depends=("registry", "codes"),
    always_on=False,
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "response_hours": {"type": "integer", "minimum": 1, "maximum": 168, "default": 24,
                               "description": "Default time to respond when the responsibility list has none"},
            "resolution_days": {"type": "integer", "minimum": 1, "maximum": 90, "default": 5},
            "grab_cap_per_worker": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
            "auto_close_days": {"type": "integer", "minimum": 1, "maximum": 60, "default": 7},
            "anonymous_reports": {"type": "boolean", "default": True},
            "max_video_mb": {"type": "integer", "minimum": 1, "maximum": 200, "default": 30},
        },
    },
)
