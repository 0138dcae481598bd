from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "modules.ratings"
    label = "ratings"
    verbose_name = "Ratings (好差评)"
