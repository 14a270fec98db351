from django.apps import AppConfig


class GeoConfig(AppConfig):
    name = "mahalle.geo"
    label = "geo"
