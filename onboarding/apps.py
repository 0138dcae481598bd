from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """The vendor's flow from application to a live district (public schema). It calls
    tenants.services.create_district, the one way a district is made."""

    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self):
        from kernel.audit_names import register_audit_actions
        from onboarding.provisioning import register_steps

        register_steps()
        register_audit_actions({
            "onboarding.application.create": ("提交辖区申请草稿", "Application filed"),
            "onboarding.application.update": ("修改辖区申请", "Application changed"),
            "onboarding.application.submit": ("提交辖区申请审核", "Application submitted"),
            "onboarding.application.withdraw": ("撤回辖区申请", "Application withdrawn"),
            "onboarding.application.return": ("退回辖区申请", "Application sent back"),
            "onboarding.application.approve": ("批准辖区申请", "Application approved"),
            "onboarding.comment": ("申请审核留言", "Review comment"),
            "onboarding.run.start": ("开始开通辖区", "Provisioning started"),
            "onboarding.run.step_failed": ("开通步骤失败", "Provisioning step failed"),
            "onboarding.run.failed": ("开通失败", "Provisioning failed"),
            "onboarding.run.retry": ("重试开通", "Provisioning retried"),
            "onboarding.run.done": ("辖区开通完成", "Provisioning done"),
        })
