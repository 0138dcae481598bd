"""Portal pages of ratings.integrity."""
urlpatterns: list = []
