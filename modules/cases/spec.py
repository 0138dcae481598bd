"""Module spec: Cases (码上解决) — intake, routing by the responsibility list, dispatch and grab,
time limits and escalation, answers to the end."""
from modules.spec import ModuleSpec, PeriodicTask

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
            "reopen_days": {"type": "integer", "minimum": 0, "maximum": 60, "default": 7,
                            "description": "Days after the result during which the reporter may reopen"},
            "escalation_step_hours": {"type": "integer", "minimum": 1, "maximum": 720, "default": 24,
                                      "description": "Time an escalated owner has before the next level"},
            "ref_prefix": {"type": "string", "pattern": "^([A-Z]{2,6})?$", "default": "",
                           "description": "Prefix of reference numbers (e.g. KBS); empty: from the district"},
        },
    },
    api_urls="modules.cases.api_urls",
    periodic_tasks=(PeriodicTask("modules.cases.tasks.sweep", 300),),
    kpis={"open_cases": "modules.cases.selectors.open_case_kpi",
          "overdue_cases": "modules.cases.selectors.overdue_case_kpi"},
    seed="modules.cases.services.seed",
)
