"""Portal pages of ratings.ledger, under /ratings/ (namespace ``ratings``)."""
from django.urls import path

from modules.ratings.ledger import views

urlpatterns = [
    path("rate/<str:token>/", views.rate, name="rate"),
    path("mine/", views.mine, name="mine"),
    path("mine/<int:pk>/", views.rated, name="rated"),
]
