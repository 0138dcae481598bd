from django.urls import path

from portal import settings_views, views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("me/", views.me, name="me"),
    path("manage/", settings_views.modules, name="settings-modules"),
    path("manage/modules/<slug:key>/off/", settings_views.module_off, name="settings-module-off"),
    path("manage/config/", settings_views.config_index, name="settings-config-index"),
    path("manage/config/<slug:key>/", settings_views.config, name="settings-config"),
    path("manage/branding/", settings_views.branding, name="settings-branding"),
    path("manage/users/", settings_views.users, name="settings-users"),
    path("manage/audit/", settings_views.audit, name="settings-audit"),
    path("manage/audit/<int:pk>/", settings_views.audit_entry, name="settings-audit-entry"),
]
