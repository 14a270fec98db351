from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "mahalle.screening"
    label = "screening"
