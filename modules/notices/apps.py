from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "modules.notices"
    label = "notices"
    verbose_name = "Notices (政策宣传)"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from modules.notices.api import forget_list
        from modules.notices.models import Notice

        post_save.connect(forget_list, sender=Notice, dispatch_uid="notices-forget-list-save")
        post_delete.connect(forget_list, sender=Notice, dispatch_uid="notices-forget-list-delete")
