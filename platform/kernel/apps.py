from importlib import import_module

from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "kernel"
    verbose_name = "Platform kernel (audit, outbox, roles, module configuration)"

    def ready(self):
        from modules.catalog import catalog

        for spec in catalog:  # modules register their outbox event handlers
            if spec.handlers:
                import_module(spec.handlers)
