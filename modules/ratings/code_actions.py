"""What the ratings module offers on a scanned official, merchant or stall code (registered with
``modules.codes.actions.register_action``): 评价 — rate this official or business. Everyone who scans
sees it (``passerby``: a scanner not signed in is sent to sign in by the rate page), except the subject
themself (the official's own account, the merchant's owner)."""
from modules.codes.actions import register_action


def _not_own(ctx) -> bool:
    return "owner" not in ctx.audiences


register_action("official", "rate", "评价", "Rate", "ratings:rate", who="passerby", module="ratings", icon="⭐",
                order=10, when=_not_own)
for _kind in ("merchant", "stall"):
    register_action(_kind, "rate", "评价", "Rate", "ratings:rate", who="passerby", module="ratings", icon="⭐",
                    order=10, when=_not_own)
