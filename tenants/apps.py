from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Districts"

    def ready(self):
        from kernel.audit_names import register_audit_actions

        register_audit_actions({
            "district.go_live": ("正式开通（向居民开放）", "District opened to residents"),
            "vendor.create": ("新建服务商", "Vendor created"),
            "platform.role.grant": ("授予平台角色", "Platform role given"),
            "release.start": ("开始版本发布（全部区县迁移）", "Release started (every district migrated)"),
            "release.retry": ("重试区县迁移", "District migration retried"),
            "release.done": ("区县迁移完成", "District migration done"),
            "release.failed": ("区县迁移失败", "District migration failed"),
        })
