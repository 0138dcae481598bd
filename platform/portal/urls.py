from django.urls import path

from portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("me/", views.me, name="me"),
    path("manage/", views.settings_modules, name="settings-modules"),
    path("manage/config/<slug:key>/", views.settings_config, name="settings-config"),
    path("manage/branding/", views.settings_branding, name="settings-branding"),
    path("manage/users/", views.settings_users, name="settings-users"),
    path("manage/audit/", views.settings_audit, name="settings-audit"),
]
