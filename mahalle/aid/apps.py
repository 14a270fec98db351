from django.apps import AppConfig


class AidConfig(AppConfig):
    name = "mahalle.aid"
    label = "aid"
