"""Every write of onboarding: the vendor's (``applications``), the staff's (``review``); the field
rules in ``rules``; provisioning itself runs as a job (``onboarding.provisioning``)."""
from onboarding.services.applications import (  # noqa: F401
    add_comment,
    create_application,
    submit_application,
    update_application,
    vendor_for,
    withdraw_application,
)
from onboarding.services.review import approve_application, retry_run, return_application  # noqa: F401
