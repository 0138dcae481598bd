from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "modules.cases"
    label = "cases"
    verbose_name = "Cases (码上解决)"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from modules.cases.api import forget_categories
        from modules.cases.models import Category

        post_save.connect(forget_categories, sender=Category, dispatch_uid="cases-forget-categories-save")
        post_delete.connect(forget_categories, sender=Category, dispatch_uid="cases-forget-categories-delete")
