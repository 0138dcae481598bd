from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "modules.cases"
    label = "cases"
    verbose_name = "Cases (码上解决)"
