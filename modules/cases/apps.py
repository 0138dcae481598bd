from django.apps import AppConfig

SEEDED_RLIST_NOTE = "默认权责清单（全区）"  # the list a new district starts with (services.reference.seed)


def rlist_set(district) -> bool:
    """Set-up check: the district published its own responsibility list (rows, and not only the
    district-wide default every district starts with)."""
    from modules.cases.models import ResponsibilityList

    current = ResponsibilityList.objects.filter(is_current=True).first()
    return bool(current and current.items.exists() and (current.version > 1 or current.note != SEEDED_RLIST_NOTE))


class CasesConfig(AppConfig):
    name = "modules.cases"
    label = "cases"
    verbose_name = "Cases (码上解决)"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from kernel.lifecycle_hooks import SetupCheck, register_check

        register_check(SetupCheck(key="rlist_set", order=30, label_zh="已设置权责清单",
                                  label_en="The responsibility list is set", done=rlist_set,
                                  where="/cases/settings/", module="cases"))

        from modules.cases.api import forget_categories
        from modules.cases.models import Category

        post_save.connect(forget_categories, sender=Category, dispatch_uid="cases-forget-categories-save")
        post_delete.connect(forget_categories, sender=Category, dispatch_uid="cases-forget-categories-delete")
