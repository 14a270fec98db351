from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "mahalle.analytics"
    label = "analytics"
