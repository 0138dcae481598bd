#!/usr/bin/env python
"""Django's command-line utility for Mashang."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# platform/ is a plain folder on the path (never a package: it would shadow the stdlib module).
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.env import ensure_database  # noqa: E402

    ensure_database()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
