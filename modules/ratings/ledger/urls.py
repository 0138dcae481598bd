"""Portal pages of ratings.ledger."""
urlpatterns: list = []
