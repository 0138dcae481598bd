"""Portal pages of ratings.followup."""
urlpatterns: list = []
