"""Pages answer a domain refusal in one place, as the API does (config/api.py): a service's or selector's
NotFound becomes the 404 page and its PermissionDenied the 403 page, whichever view it escapes from.

Other DomainErrors (ValidationFailed, Conflict, …) are the views' to show: they re-render the form with the
message, so they are left alone here (an uncaught one stays a server error, as before).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404

from mahalle.core import errors


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # Raised here, Django's own handlers answer them exactly as if the view had raised them
        # (handler404 / handler403 with the 404.html / 403.html templates).
        if isinstance(exception, errors.NotFound):
            raise Http404(exception.detail) from exception
        if isinstance(exception, errors.PermissionDenied):
            raise DjangoPermissionDenied(exception.detail) from exception
        return None
