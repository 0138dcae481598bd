"""API routes of ratings.reports."""
urlpatterns: list = []
