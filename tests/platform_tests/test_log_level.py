"""LOG_LEVEL is read in any case: gunicorn writes it in lower case ("warning"), Django's logging
set-up wants an upper-case level name and would refuse to boot."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("level", ["warning", " Debug "])
def test_django_boots_with_a_log_level_in_any_case(level):
    env = {**os.environ, "LOG_LEVEL": level, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import logging, django; django.setup(); print(logging.getLogger().level)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    import logging

    assert int(done.stdout.split()[-1]) == logging.getLevelName(level.strip().upper())
