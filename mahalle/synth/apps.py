from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "mahalle.synth"
    label = "synth"
    verbose_name = "synthetic population and demo"
