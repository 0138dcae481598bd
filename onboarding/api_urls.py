"""Placeholder: filled by the issue-12 work that owns onboarding/."""
urlpatterns: list = []
