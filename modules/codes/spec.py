"""Module spec: Codes (五码).

Its pages, API and tasks arrive with the issue that builds this module; the spec, configuration
schema and dependencies are fixed now so districts can be configured from day one."""
from modules.spec import ModuleSpec

SPEC = ModuleSpec(
    key="codes",
    name_zh="五码",
    name_en="Codes",
    description_zh="户内码、户外码、商户码、干部码、流动摊位码",
    description_en="The five QR codes",
    depends=("registry",),
    always_on=True,
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "codes_per_sheet": {"type": "integer", "enum": [1, 2, 4, 6, 8, 12, 24], "default": 8},
            "outdoor_contacts": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "grid_worker": {"type": "boolean", "default": True},
                    "police": {"type": "boolean", "default": True},
                    "property_manager": {"type": "boolean", "default": True},
                },
            },
        },
    },
)
