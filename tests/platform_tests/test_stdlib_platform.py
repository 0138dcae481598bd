"""The folder platform/ must never become an importable package: it would shadow the standard
library's `platform` module that Django, Celery, Stripe and Sentry import."""
import importlib
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_platform_module_is_the_standard_library_one():
    module = importlib.import_module("platform")
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(module.__file__).resolve().parent == stdlib
    assert callable(module.python_version) and module.python_version().startswith("3.11")


def test_platform_folder_has_no_init():
    assert (ROOT / "platform").is_dir()
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert str(ROOT / "platform") in sys.path  # its apps (config, kernel, …) are importable directly
