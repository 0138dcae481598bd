"""Module spec: Codes (五码) — household, outdoor, merchant, official and stall codes; scanning,
binding residents to households, print runs."""
from kernel.roles import STAFF_ROLES
from modules.spec import ModuleSpec, NavEntry, PeriodicTask

SPEC = ModuleSpec(
    key="codes",
    name_zh="五码",
    name_en="Codes",
    description_zh="户内码、户外码、商户码、干部码、流动摊位码",
    description_en="The five QR codes",
    promise_zh="扫码办事",
    promise_en="scan a code",
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
            "error_correction": {"type": "string", "enum": ["M", "Q"], "default": "M",
                                 "description": "QR error correction: M (15 %) or Q (25 %, for plates that get dirty)"},
            "auto_bind": {"type": "boolean", "default": True,
                          "description": "Bind at once when the ledger has the person at that household; "
                                         "otherwise every binding waits for the grid worker"},
            "invite_hours": {"type": "integer", "minimum": 1, "maximum": 720, "default": 72,
                             "description": "How long a household head's invitation link stays valid"},
        },
    },
    api_urls="modules.codes.api_urls",
    portal_urls="modules.codes.urls",
    nav=(NavEntry("五码", "Codes", "codes:index", icon="🔳", roles=tuple(STAFF_ROLES), staff=True),),
    code_kinds=("household", "outdoor", "merchant", "official", "stall"),
    kpis={"active_codes": "modules.codes.selectors.active_code_count",
          "pending_bindings": "modules.codes.selectors.pending_binding_count"},
    periodic_tasks=(PeriodicTask("modules.codes.tasks.requeue_stale_print_runs", 60),),
    seed="modules.codes.services.seed",
)
