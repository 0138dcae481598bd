from django.apps import AppConfig


class PointsConfig(AppConfig):
    name = "modules.points"
    label = "points"
    verbose_name = "Civic points (品德积分)"
