"""Module spec: Civic points (品德积分).

Its pages, API and tasks arrive with the issue that builds this module; the spec, configuration
schema and dependencies are fixed now so districts can be configured from day one."""
from modules.spec import ModuleSpec

SPEC = ModuleSpec(
    key="points",
    name_zh="品德积分",
    name_en="Civic points",
    description_zh="积分规则、台账、审查委员会、批次、荣誉等级与权益",
    description_en="Rulebook, ledger, committee, batches, tiers and benefits",
    depends=("registry",),
    always_on=False,
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "material_points": {"type": "boolean", "default": False,
                                "description": "Keep a separate material-points balance"},
            "sms_on_award": {"type": "boolean", "default": True},
            "committee_quorum": {"type": "integer", "minimum": 1, "maximum": 15, "default": 2},
            "tiers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key", "name_zh", "min_points"],
                    "properties": {
                        "key": {"type": "string", "pattern": "^[a-z0-9_]{1,20}$"},
                        "name_zh": {"type": "string", "minLength": 1, "maxLength": 20},
                        "name_en": {"type": "string", "maxLength": 40},
                        "min_points": {"type": "integer", "minimum": 0},
                    },
                },
                "default": [
                    {"key": "bronze", "name_zh": "铜牌居民", "name_en": "Bronze", "min_points": 100},
                    {"key": "silver", "name_zh": "银牌居民", "name_en": "Silver", "min_points": 300},
                    {"key": "gold", "name_zh": "金牌居民", "name_en": "Gold", "min_points": 600},
                ],
            },
        },
    },
)
