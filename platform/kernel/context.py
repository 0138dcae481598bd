"""Per-request / per-task context (request id, tenant) for logs and audit entries."""
from __future__ import annotations

import contextvars

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
