"""Placeholder: filled by the issue-12 work that owns tenants/lifecycle/."""
urlpatterns: list = []
