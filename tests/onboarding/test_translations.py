"""Every message onboarding shows has a zh-Hans translation (in django.po, or in pending-onboard.po until
the lead folds it in)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = [r'\{% translate "((?:[^"\\]|\\.)*)"', r"\{% translate '((?:[^'\\]|\\.)*)'",
            r'(?<![A-Za-z_])_\(\s*"((?:[^"\\]|\\.)*)"']


def _catalog() -> dict[str, str]:
    found = {}
    for name in ("LC_MESSAGES/django.po", "pending-onboard.po"):
        text = (ROOT / "platform/locale/zh_Hans" / name).read_text()
        for msgid, msgstr in re.findall(r'^msgid "((?:[^"\\]|\\.)*)"\nmsgstr "((?:[^"\\]|\\.)*)"', text, re.M):
            found[msgid] = msgstr
    return found


def test_every_onboarding_message_is_translated():
    catalog = _catalog()
    files = [*(ROOT / "onboarding").rglob("*.py"), *(ROOT / "onboarding/templates").rglob("*.html")]
    missing = set()
    for path in files:
        text = path.read_text()
        for pattern in PATTERNS:
            missing |= {m for m in re.findall(pattern, text) if not catalog.get(m)}
    assert not missing, sorted(missing)
