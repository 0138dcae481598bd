"""Console pages of onboarding, at /console/applications/ on the public host."""
from django.urls import path

from onboarding import views

app_name = "onboarding"
urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_new, name="new"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/edit/", views.application_edit, name="edit"),
    path("<int:pk>/submit/", views.application_submit, name="submit"),
    path("<int:pk>/withdraw/", views.application_withdraw, name="withdraw"),
    path("<int:pk>/comment/", views.application_comment, name="comment"),
    path("<int:pk>/approve/", views.application_approve, name="approve"),
    path("<int:pk>/return/", views.application_return, name="return"),
    path("<int:pk>/retry/", views.application_retry, name="retry"),
    path("<int:pk>/progress/", views.application_progress, name="progress"),
    path("<int:pk>/progress.json", views.application_progress_json, name="progress-json"),
]
