from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "mahalle.screening"
    label = "screening"

    def ready(self) -> None:
        from . import receivers  # the cases events this app subscribes to (cases.events)

        receivers.connect()
