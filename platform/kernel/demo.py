"""What the demo of every part shares: the console seeds the districts and their people, each module
seeds its own data (``ModuleSpec.demo``); both give demo accounts this one password, so a module's
demo never imports the console."""
from __future__ import annotations

DEMO_PASSWORD = "mashang-demo"
