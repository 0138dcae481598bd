from django.apps import AppConfig


class CodesConfig(AppConfig):
    name = "modules.codes"
    label = "codes"
    verbose_name = "Codes (五码)"

    def ready(self):
        from modules.codes.actions import autodiscover

        autodiscover()
