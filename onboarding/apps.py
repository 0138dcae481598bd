from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """The vendor's flow from application to a live district (public schema). It will call
    tenants.services.create_district, the one way a district is made."""

    name = "onboarding"
