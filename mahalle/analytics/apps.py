from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "mahalle.analytics"
    label = "analytics"

    def ready(self) -> None:
        from . import receivers  # the cases events this app subscribes to (cases.events)

        receivers.connect()
