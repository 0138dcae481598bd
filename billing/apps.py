from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, the Stripe customer/subscription mirror, webhook event store and dunning (public schema).
    Registers the provisioning step ``billing`` (order 80) and the set-up check ``billing_active``."""

    name = "billing"

    def ready(self):
        from billing import services
        from kernel.lifecycle_hooks import ProvisioningStep, SetupCheck, register_check, register_step

        register_step(ProvisioningStep(key="billing", order=80, label_zh="开通计费（Stripe 客户与订阅）",
                                       label_en="Billing: Stripe customer and subscription",
                                       run=services.provisioning_step))
        register_check(SetupCheck(key="billing_active", order=90, label_zh="计费已生效", label_en="Billing is active",
                                  done=services.billing_active))
