from django.apps import AppConfig


class NeedsConfig(AppConfig):
    name = "mahalle.needs"
    label = "needs"
