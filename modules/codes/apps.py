from django.apps import AppConfig


class CodesConfig(AppConfig):
    name = "modules.codes"
    label = "codes"
    verbose_name = "Codes (五码)"
