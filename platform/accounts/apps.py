from django.apps import AppConfig


def admin_signed_in(district) -> bool:
    """Set-up check: a district administrator has signed in at least once."""
    from django.contrib.auth import get_user_model

    from kernel.models import RoleAssignment
    from kernel.roles import Role

    admins = RoleAssignment.objects.filter(role=Role.DISTRICT_ADMIN).values("user_id")
    return get_user_model().objects.filter(pk__in=admins, last_login__isnull=False).exists()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from accounts.invitations import STEP_KEY, provision_admin_step
        from kernel.audit_names import register_audit_actions
        from kernel.lifecycle_hooks import ProvisioningStep, SetupCheck, register_check, register_step

        register_step(ProvisioningStep(key=STEP_KEY, order=70, label_zh="邀请区县管理员",
                                       label_en="Invite the district administrator", run=provision_admin_step))
        register_check(SetupCheck(key="admin_signed_in", order=10, label_zh="区县管理员已登录",
                                  label_en="The district administrator has signed in", done=admin_signed_in,
                                  where="/login/"))
        register_audit_actions({
            "user.invite": ("发送管理员邀请链接", "Invitation link issued"),
            "user.invitation_accept": ("通过邀请链接设置密码", "Password set from an invitation"),
            "district.admin_invite": ("重新发送管理员邀请", "Administrator invitation re-issued"),
        })
