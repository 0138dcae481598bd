"""API routes of ratings.followup."""
urlpatterns: list = []
