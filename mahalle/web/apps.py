from django.apps import AppConfig


class WebConfig(AppConfig):
    """The web shell: base templates, navigation, the dashboard, sign-in, and the pages' root URLs."""

    name = "mahalle.web"
    label = "web"
