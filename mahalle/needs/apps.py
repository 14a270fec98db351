from django.apps import AppConfig


class NeedsConfig(AppConfig):
    name = "mahalle.needs"
    label = "needs"

    def ready(self) -> None:
        from . import receivers  # the cases events this app subscribes to (cases.events)

        receivers.connect()
