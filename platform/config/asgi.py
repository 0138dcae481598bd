import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Each ASGI request runs its sync code in a fresh thread: pool connections rather than opening one per
# request (see DB_POOL in settings).
os.environ.setdefault("DB_POOL", "1")

application = get_asgi_application()
