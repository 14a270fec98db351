"""The Rt settings: the defaults, overridden by settings.MAHALLE_RT (docs/rt.md)."""

from django.conf import settings

from .epi.rt import DEFAULT_SI_MEAN, DEFAULT_SI_SD, DEFAULT_WINDOW

RT_DEFAULTS = {
    "DATE": "onset",  # "onset": onset date, else the day the case was recorded; "report": the day recorded
    "SI_MEAN": DEFAULT_SI_MEAN,
    "SI_SD": DEFAULT_SI_SD,
    "WINDOW": DEFAULT_WINDOW,
    "HISTORY_DAYS": 365,  # cases dated earlier than this many days before today are not counted
}


def rt_settings() -> dict:
    config = {**RT_DEFAULTS, **getattr(settings, "MAHALLE_RT", {})}
    if config["DATE"] not in ("onset", "report"):
        raise ValueError(f"MAHALLE_RT['DATE'] must be 'onset' or 'report', not {config['DATE']!r}")
    return config
