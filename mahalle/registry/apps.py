from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "mahalle.registry"
    label = "registry"
