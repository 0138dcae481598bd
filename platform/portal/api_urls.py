from django.urls import path

from portal import api

urlpatterns = [
    path("auth/otp/request/", api.OtpRequestView.as_view(), name="otp-request"),
    path("auth/otp/verify/", api.OtpVerifyView.as_view(), name="otp-verify"),
    path("auth/token/", api.TokenSignInView.as_view(), name="token"),
    path("auth/token/revoke/", api.TokenRevokeView.as_view(), name="token-revoke"),
    path("auth/logout/", api.LogoutView.as_view(), name="logout"),
    path("me/", api.MeView.as_view(), name="me"),
    path("district/", api.DistrictView.as_view(), name="district"),
    path("settings/modules/", api.ModuleListView.as_view(), name="modules"),
    path("settings/modules/<slug:key>/enable/", api.ModuleToggleView.as_view(enable=True), name="module-enable"),
    path("settings/modules/<slug:key>/disable/", api.ModuleToggleView.as_view(enable=False), name="module-disable"),
    path("settings/modules/<slug:key>/config/", api.ModuleConfigView.as_view(), name="module-config"),
    path("settings/modules/<slug:key>/config/versions/", api.ModuleConfigVersionsView.as_view(),
         name="module-config-versions"),
    path("settings/modules/<slug:key>/config/versions/<int:version>/restore/", api.ModuleConfigRestoreView.as_view(),
         name="module-config-restore"),
    path("settings/branding/", api.BrandingView.as_view(), name="branding"),
    path("settings/users/", api.UserListView.as_view(), name="users"),
    path("settings/users/<int:user_id>/roles/", api.UserRolesView.as_view(), name="user-roles"),
    path("settings/users/<int:user_id>/tokens/revoke/", api.UserTokensRevokeView.as_view(),
         name="user-tokens-revoke"),
    path("settings/users/<int:user_id>/roles/<int:role_id>/", api.UserRoleDetailView.as_view(), name="user-role"),
    path("settings/audit/", api.AuditListView.as_view(), name="audit"),
]
