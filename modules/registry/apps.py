from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "modules.registry"
    label = "registry"
    verbose_name = "Registry (登记)"

    def ready(self):
        from modules.registry import selectors  # noqa: F401  (registers the place hierarchy for scopes)
