"""Every message onboarding shows has a zh-Hans translation in django.po."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = [r'\{% translate "((?:[^"\\]|\\.)*)"', r"\{% translate '((?:[^'\\]|\\.)*)'",
            r'(?<![A-Za-z_])_\(\s*"((?:[^"\\]|\\.)*)"']


def _catalog() -> dict[str, str]:
    from tests.i18n.test_zh_hans_pages import _po_entries

    return {e["msgid"]: e.get("msgstr", "") for e in _po_entries(ROOT / "platform/locale/zh_Hans/LC_MESSAGES/django.po")}


def test_every_onboarding_message_is_translated():
    catalog = _catalog()
    files = [*(ROOT / "onboarding").rglob("*.py"), *(ROOT / "onboarding/templates").rglob("*.html")]
    missing = set()
    for path in files:
        text = path.read_text()
        for pattern in PATTERNS:
            missing |= {m for m in re.findall(pattern, text) if not catalog.get(m)}
    assert not missing, sorted(missing)
