"""Writes of the cases module: one function per use case, keyword arguments, one transaction, an
audit entry and a timeline event per step, domain events through the outbox. Every write checks its
actor in the service itself (there is no second layer to go around).

- ``submit``: intake from every channel (``submit_case``, ``submit_case_with_files``);
- ``handling``: grab, accept, start, resolve, confirm, reopen, transfer, reject, the sweeps, and
  ``allowed_actions`` (the one answer to "what may this user do");
- ``reference``: categories, the responsibility list, holidays (district administrators only), the
  seed; ``rlist_rows`` / ``holiday_rows`` check and read their rows and write their templates;
- ``common``: what they share.

Callers import this package (``from modules.cases import services``); the names below are its API."""
from modules.cases.services.common import (  # noqa: F401
    BAD_RATING_MAX,
    HOUSEHOLD_CHANNELS,
    INTEGRATION_CHANNELS,
    OPEN,
    OWNER_LEVEL_OF_UNIT,
    VERIFIABLE_CHANNELS,
    S,
    _config,
    grid_worker_of,
)
from modules.cases.services.handling import (  # noqa: F401
    ACTION_STATUSES,
    accept_case,
    add_participant,
    allowed_actions,
    auto_close,
    confirm_and_rate,
    escalate_overdue,
    grab_case,
    is_handler,
    link_duplicate,
    reject_case,
    reopen_case,
    reopen_until,
    reporter_contact,
    require_handler,
    resolve_case,
    resolve_from_elsewhere,
    start_case,
    supervises,
    transfer_case,
)
from modules.cases.services.reference import (  # noqa: F401
    DEFAULT_CATEGORIES,
    delete_holiday,
    import_holidays,
    publish_list,
    publish_responsibility_list,
    save_category,
    seed,
    set_holiday,
)
from modules.cases.services.submit import _next_ref, submit_case, submit_case_with_files  # noqa: F401
