"""API routes of ratings.ledger."""
urlpatterns: list = []
