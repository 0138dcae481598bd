from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, the Stripe customer/subscription mirror, webhook event store and dunning (public schema).
    Registers the provisioning step ``billing`` (order 80) and the set-up check ``billing_active``."""

    name = "billing"

    def ready(self):
        from billing import services
        from kernel.audit_names import register_audit_actions
        from kernel.lifecycle_hooks import ProvisioningStep, SetupCheck, register_check, register_step

        register_step(ProvisioningStep(key="billing", order=80, label_zh="开通计费（Stripe 客户与订阅）",
                                       label_en="Billing: Stripe customer and subscription",
                                       run=services.provisioning_step))
        register_check(SetupCheck(key="billing_active", order=90, label_zh="计费已生效", label_en="Billing is active",
                                  done=services.billing_active, where="/manage/billing/"))
        register_audit_actions({
            "billing.plan.create": ("新建计费套餐", "Billing plan created"),
            "billing.plan.change": ("修改计费套餐", "Billing plan changed"),
            "billing.account.create": ("建立计费账户", "Billing account created"),
            "billing.account.open": ("开通计费（Stripe 客户与订阅）", "Billing opened (Stripe customer and subscription)"),
            "billing.account.state": ("计费状态变更", "Billing state changed"),
            "billing.override": ("人工干预欠费流程", "Payment ladder overridden"),
            "billing.event.failed": ("Stripe 事件处理失败", "Stripe event failed"),
            "billing.event.retry": ("重新处理 Stripe 事件", "Stripe event run again"),
            "billing.reconcile": ("与 Stripe 对账", "Reconciled with Stripe"),
            "billing.usage": ("记录每月用量", "Monthly usage recorded"),
        })
