from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mahalle.audit"
    label = "audit"
