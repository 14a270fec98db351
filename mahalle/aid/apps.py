from django.apps import AppConfig


class AidConfig(AppConfig):
    name = "mahalle.aid"
    label = "aid"

    def ready(self):
        # connects the receiver that queues a cycle's computation once it is marked running (services.cycle_queued)
        from . import tasks  # noqa: F401
