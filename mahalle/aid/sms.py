"""A pluggable SMS gateway. Setting MAHALLE_SMS_BACKEND names a class with `send(to, text)`; the default console
backend logs the message and keeps it in `outbox` (the demo shows it, tests read it)."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("mahalle.aid.sms")
DEFAULT_BACKEND = "mahalle.aid.sms.ConsoleBackend"
OUTBOX_LIMIT = 1000

outbox: list[dict] = []


class ConsoleBackend:
    """Writes each message to the log and to `outbox` (the last OUTBOX_LIMIT messages)."""

    def send(self, to: str, text: str) -> None:
        logger.info("SMS to %s: %s", to, text)
        outbox.append({"to": to, "text": text})
        del outbox[:-OUTBOX_LIMIT]


def send_sms(to: str, text: str) -> None:
    backend = import_string(getattr(settings, "MAHALLE_SMS_BACKEND", DEFAULT_BACKEND))()
    backend.send(to, text)
