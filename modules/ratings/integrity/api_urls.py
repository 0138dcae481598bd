"""API routes of ratings.integrity."""
urlpatterns: list = []
