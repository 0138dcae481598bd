"""Portal pages of ratings.reports."""
urlpatterns: list = []
