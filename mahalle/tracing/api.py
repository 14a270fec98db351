"""The tracing part of the JSON API (thin: parse, call a selector or service, answer)."""

from ninja import Router

router = Router(tags=["tracing"])
