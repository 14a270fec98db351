"""Where a request came from, for the audit log, without passing `request` into services."""

import contextvars

client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_address", default=None)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_address.set(request.META.get("REMOTE_ADDR"))
        try:
            return self.get_response(request)
        finally:
            client_address.reset(token)
