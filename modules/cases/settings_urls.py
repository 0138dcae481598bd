"""District settings of the cases module and the figures page, under /cases/ (namespace ``cases``).
The names ``figures`` and ``settings`` are in the module's navigation."""
from django.urls import path

from modules.cases import settings_views as views

urlpatterns = [
    path("figures/", views.figures, name="figures"),
    path("figures/export/", views.figures_export, name="figures-export"),
    path("settings/", views.settings_home, name="settings"),
    path("settings/list/v<int:version>/", views.rlist_version, name="settings-rlist-version"),
    path("settings/list/edit/", views.rlist_edit, name="settings-rlist-edit"),
    path("settings/list/upload/", views.rlist_upload, name="settings-rlist-upload"),
    path("settings/list/template.xlsx", views.rlist_template, name="settings-rlist-template"),
    path("settings/categories/", views.categories, name="settings-categories"),
    path("settings/holidays/", views.holidays, name="settings-holidays"),
    path("settings/holidays/<int:year>.xlsx", views.holidays_xlsx, name="settings-holidays-xlsx"),
    path("settings/integrations/", views.integrations_page, name="settings-integrations"),
]
