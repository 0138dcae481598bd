"""Ledger pages, mounted at /points/ (namespace ``points``): the resident's points (balance, history,
appeals) and, under staff/rules/, the rulebook editor."""
from django.urls import path

from modules.points.ledger import views, views_rules

urlpatterns = [
    path("", views.home, name="home"),
    path("entries/<int:entry_id>/appeal/", views.appeal, name="appeal"),
    path("appeals/", views.appeals, name="appeals"),
    path("staff/rules/", views_rules.rules, name="rules"),
    path("staff/rules/new/", views_rules.rule_new, name="staff-rule-new"),
    path("staff/rules/template/", views_rules.rule_template, name="staff-rule-template"),
    path("staff/rules/<slug:code>/", views_rules.rule_detail, name="staff-rule"),
]
