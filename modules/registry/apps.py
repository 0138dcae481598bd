from django.apps import AppConfig


def ledger_imported(district) -> bool:
    """Set-up check: a ledger import finished, or the registry has residents (entered another way)."""
    from modules.registry.models import ImportJob, Resident

    return (ImportJob.objects.filter(phase=ImportJob.Phase.IMPORT, status=ImportJob.Status.DONE).exists()
            or Resident.objects.exists())


class RegistryConfig(AppConfig):
    name = "modules.registry"
    label = "registry"
    verbose_name = "Registry (登记)"

    def ready(self):
        from kernel.lifecycle_hooks import SetupCheck, register_check
        from modules.registry import selectors  # noqa: F401  (registers the place hierarchy for scopes)

        register_check(SetupCheck(key="ledger_imported", order=20, label_zh="已导入人口台账",
                                  label_en="The resident ledger is imported", done=ledger_imported,
                                  where="/registry/ledger/", module="registry"))
