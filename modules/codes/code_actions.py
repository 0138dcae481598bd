"""What the codes module itself offers on a scanned code (other modules add theirs the same way)."""
from modules.codes.actions import KINDS, register_action


def _not_bound(ctx) -> bool:
    return "resident" not in ctx.audiences


register_action("household", "bind", "绑定本户", "Bind to this household", "codes:bind", who="passerby",
                module="codes", icon="🏠", order=10, when=_not_bound)
register_action("household", "invite", "邀请家人加入", "Invite a family member", "codes:invite", who="owner",
                module="codes", icon="✉️", order=20)
for _kind in KINDS:
    register_action(_kind, "manage", "管理此码（补发、作废）", "Manage this code (re-issue, revoke)", "codes:code",
                    who="staff", module="codes", icon="🛠", order=900)
