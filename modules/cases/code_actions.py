"""What the cases module offers on a scanned code (imported by ``modules.codes.actions.autodiscover``).

- outdoor code (the plate outside a door): anyone who scans may report uncivil behaviour at or near
  that household, praise a good deed of it, or see whom to contact (no case). Whether a report needs
  signing in is the district's ``anonymous_reports`` setting; the report page asks for it.
- household code (inside): a resident bound to the household reports a problem at home.
- merchant and stall codes: the owner asks the district for help (a merchant request, respond on receipt).
"""
from modules.codes.actions import register_action

register_action("outdoor", "report", "我要上报", "Report a problem", "cases:code-report", who="passerby",
                module="cases", icon="📣", order=20)
register_action("outdoor", "praise", "我要点赞", "Praise a good deed", "cases:code-praise", who="passerby",
                module="cases", icon="👍", order=30)
register_action("outdoor", "contact", "我要联系", "Contact", "cases:code-contact", who="passerby",
                module="cases", icon="☎️", order=40)
register_action("household", "report", "我要反映", "Report a problem at home", "cases:code-report",
                who="resident", module="cases", icon="📣", order=30)
for _kind in ("merchant", "stall"):
    register_action(_kind, "request", "我要求助", "Ask the district for help", "cases:code-request", who="owner",
                    module="cases", icon="🙋", order=20)
