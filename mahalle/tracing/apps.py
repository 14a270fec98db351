from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "mahalle.tracing"
    label = "tracing"
