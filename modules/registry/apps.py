from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "modules.registry"
    label = "registry"
    verbose_name = "Registry (登记)"
