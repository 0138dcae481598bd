from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications (portal inbox, SMS, WeChat)"

    def ready(self) -> None:
        from kernel.audit_names import register_audit_actions

        register_audit_actions({
            "notifications.read": ("阅读消息", "Message read"),
            "notifications.read_all": ("全部消息标为已读", "All messages marked read"),
            "notifications.preferences": ("修改消息设置", "Message settings changed"),
            "notifications.wechat_bound": ("绑定微信接收消息", "WeChat linked for messages"),
        })
