"""Benefit pages (under /points/, namespace ``points``): the resident's benefits and personal code,
the provider's scan, the honour list, and the administrator's providers."""
from django.urls import path

from modules.points.benefits import views

urlpatterns = [
    path("benefits/", views.benefits, name="benefits"),
    path("benefits/code/", views.benefit_code, name="benefit-code"),
    path("verify/", views.desk, name="desk"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("honour/", views.honour, name="honour"),
    path("providers/", views.providers, name="providers"),
    path("providers/<int:pk>/", views.provider, name="provider"),
]
