"""The end of a district's life: archive, export, restore, delete (docs/lifecycle.md).

``AUDIT_ACTIONS``: readable names of the audit actions recorded here, for
``kernel.audit_names.register_audit_actions`` (called from TenantsConfig.ready())."""

AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "lifecycle.archive": ("归档辖区（只读）", "District archived"),
    "lifecycle.export.request": ("申请导出辖区数据", "District export asked for"),
    "lifecycle.export.done": ("辖区数据导出完成", "District export finished"),
    "lifecycle.export.failed": ("辖区数据导出失败", "District export failed"),
    "lifecycle.export.download": ("下载辖区导出文件", "District export file downloaded"),
    "lifecycle.restore": ("由导出恢复为新辖区", "District restored from an export"),
    "lifecycle.delete": ("删除辖区（保留期满）", "District deleted after retention"),
}
