"""Readable names of audit actions, declared once: the kernel's and platform's own here, each module's
in its ``ModuleSpec.audit_actions``. Code that records an action elsewhere (a platform app) may add
its names with ``register_audit_actions``."""
from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext, pgettext

from modules.catalog import catalog

KERNEL_ACTIONS: dict[str, tuple[str, str]] = {
    "auth.otp_sign_in": ("验证码登录", "Signed in with a code"),
    "auth.password_sign_in": ("密码登录", "Signed in with a password"),
    "auth.password_failed": ("密码错误", "Wrong password"),
    "auth.password_locked_attempt": ("锁定期间尝试登录", "Sign-in tried while locked"),
    "auth.token_revoked": ("注销应用令牌", "App tokens revoked"),
    "user.create": ("新建用户", "User created"),
    "role.assign": ("授予角色", "Role given"),
    "role.revoke": ("撤销角色", "Role taken away"),
    "module_config.update": ("修改模块配置", "Module configuration changed"),
    "module_config.restore": ("恢复模块配置版本", "Module configuration restored"),
    "district.create": ("创建辖区", "District created"),
    "district.seed": ("初始化辖区数据", "District seeded"),
    "district.modules": ("开启或关闭模块", "Modules turned on or off"),
    "district.branding": ("修改品牌外观", "Branding changed"),
    "district.status": ("变更辖区状态", "District status changed"),
    "personal.viewed": ("查看完整个人信息", "Personal data seen whole"),
}

_extra: dict[str, tuple[str, str]] = {}


def register_audit_actions(names: dict[str, tuple[str, str]]) -> None:
    _extra.update(names)


def all_actions() -> dict[str, tuple[str, str]]:
    out = dict(KERNEL_ACTIONS)
    for spec in catalog:
        out.update(spec.audit_actions)
    out.update(_extra)
    return out


def action_label(code: str, *, english: bool = False) -> str:
    names = all_actions().get(code)
    if names is None:
        return code
    return names[1] if english else names[0]


def action_choices(*, english: bool = False, seen=()) -> list[tuple[str, str]]:
    """(code, name) for a filter: every named action, and the codes found in the log without a name."""
    names = all_actions()
    codes = set(names) | set(seen)
    rows = [(c, action_label(c, english=english)) for c in codes]
    return sorted(rows, key=lambda r: (r[0].split(".")[0], r[1]))


def target_label(target_type: str) -> str:
    """The name of an entry's target ("accounts.user" -> 用户 / user): the model's verbose name in the
    active language (context "model", then the plain catalogue), or the label itself if it names no model."""
    try:
        name = str(apps.get_model(target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return target_type
    shown = pgettext("model", name)
    return shown if shown != name else gettext(name)
