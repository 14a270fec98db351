from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "mahalle.tracing"
    label = "tracing"

    def ready(self) -> None:
        from . import receivers  # the cases events this app subscribes to (cases.events)

        receivers.connect()
