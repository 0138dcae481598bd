from kernel.events import handles
from modules.notices.services import record_announcement


@handles("notices.published", module="notices", name="notices.announce")
def announce(payload, event):
    record_announcement(notice_id=payload["notice_id"])
