"""Domain errors. Services raise them; API and views turn them into 4xx answers with their field errors."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    def summary(self) -> str:
        """One line for a page's message: the detail, then each field's error."""
        details = field_errors_text(self.errors)
        return f"{self.detail}{' — ' + details if details else ''}"


class ValidationFailed(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403


class Conflict(DomainError):
    """The request is valid but clashes with what is stored (a re-used id, a record already in that state)."""

    status_code = 409


class PlaceFull(ValidationFailed):
    """A quarantine place (or any counted capacity) has no room left."""


class InsufficientStock(DomainError):
    """A stock move would take a balance below zero."""

    status_code = 409


def field_error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def field_errors_text(errors: list[dict]) -> str:
    """Field errors as one line: `field: message; field: message`."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def first_or_not_found(queryset, pk, what: str, *, for_update: bool = False):
    """The record `pk` of a (scoped) queryset, or NotFound: out of scope and unknown look the same (404).
    With for_update the row is locked (select_for_update) until the caller's transaction ends."""
    if for_update:
        queryset = queryset.select_for_update()
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"{what} not found")
    return found
