from django.apps import AppConfig


class ParticipationConfig(AppConfig):
    name = "modules.participation"
    label = "participation"
    verbose_name = "Participation (码上参与)"
