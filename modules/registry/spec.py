"""Module spec: Registry (登记).

Its pages, API and tasks arrive with the issue that builds this module; the spec, configuration
schema and dependencies are fixed now so districts can be configured from day one."""
from modules.spec import ModuleSpec, NavEntry, PeriodicTask

SPEC = ModuleSpec(
    key="registry",
    name_zh="登记",
    name_en="Registry",
    description_zh="街道、社区、网格、小区、楼栋、户、居民、干部、商户",
    description_en="Places, households, residents, officials, merchants",
    depends=(),
    always_on=True,
    api_urls="modules.registry.api_urls",
    portal_urls="modules.registry.urls",
    nav=(
        NavEntry("我的家", "My household", "registry:me", icon="🏠", roles=("resident",)),
        NavEntry("台账导入", "Ledger import", "registry:ledger", icon="📥",
                 roles=("district_admin", "community_staff"), staff=True),
        NavEntry("数据核查", "Data audit", "registry:audit", icon="🔍",
                 roles=("district_admin", "community_staff", "grid_worker", "grid_worker_part_time",
                        "grid_worker_sector"), staff=True),
    ),
    periodic_tasks=(PeriodicTask("registry.tasks.resume_dead_jobs", 60),),
    kpis={"residents": "modules.registry.selectors.resident_count"},
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "household_max_residents": {"type": "integer", "minimum": 1, "maximum": 50, "default": 12,
                                        "description": "Data audit flags households with more residents than this"},
            "full_id_number_roles": {"type": "array", "items": {"type": "string"}, "uniqueItems": True,
                                     "default": ["district_admin"],
                                     "description": "Roles that see full ID numbers; everyone else sees them masked"},
        },
    },
    demo="modules.registry.demo.seed_demo",
)
