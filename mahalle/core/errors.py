"""Domain errors. Services raise them; API and views turn them into 4xx answers with their field errors."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    def summary(self) -> str:
        """One line for a page's message: the detail, then each field's error."""
        details = "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)
        return f"{self.detail}{' — ' + details if details else ''}"


class ValidationFailed(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403


def field_error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def first_or_not_found(queryset, pk, what: str):
    """The record `pk` of a (scoped) queryset, or NotFound: out of scope and unknown look the same (404)."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"{what} not found")
    return found
