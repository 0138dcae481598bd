from django.apps import AppConfig


def codes_printed(district) -> bool:
    """Set-up check: a print run of codes finished."""
    from modules.codes.models import PrintRun

    return PrintRun.objects.filter(status=PrintRun.Status.DONE).exists()


class CodesConfig(AppConfig):
    name = "modules.codes"
    label = "codes"
    verbose_name = "Codes (五码)"

    def ready(self):
        from modules.codes.actions import autodiscover

        autodiscover()
        from kernel.lifecycle_hooks import SetupCheck, register_check

        register_check(SetupCheck(key="codes_printed", order=40, label_zh="已打印第一批二维码",
                                  label_en="The first codes are printed", done=codes_printed,
                                  where="/codes/print-runs/", module="codes"))
