from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "mahalle.cases"
    label = "cases"
