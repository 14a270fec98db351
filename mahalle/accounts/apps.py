from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mahalle.accounts"
    label = "accounts"
