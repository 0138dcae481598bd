from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "modules.notices"
    label = "notices"
    verbose_name = "Notices (政策宣传)"
