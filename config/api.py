"""The JSON API: one NinjaAPI under /api/v1/, a router per app, one error shape for every 4xx."""

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader, HttpBearer, django_auth

from mahalle.accounts.selectors import user_for_token
from mahalle.core.errors import DomainError


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = user_for_token(secret=token)
        if user is not None:
            request.user = user
        return user


class HeaderToken(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request, key):
        user = user_for_token(secret=key)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Mahalle API",
    version="1",
    urls_namespace="api-v1",
    auth=[BearerToken(), HeaderToken(), django_auth],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request, status: int, detail: str, errors: list | None = None):
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return _error(request, exc.status_code, exc.detail, exc.errors)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    errors = []
    for err in exc.errors:
        loc = [str(part) for part in err.get("loc", []) if part not in ("body", "query", "path", "payload")]
        errors.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return _error(request, 422, "the request is not valid", errors)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return _error(request, 401, "authentication required: sign in or send a valid API token")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return _error(request, 404, "not found")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return _error(request, exc.status_code, str(exc))


def _register_routers() -> None:
    from mahalle.accounts.api import router as accounts_router
    from mahalle.aid.api import router as aid_router
    from mahalle.analytics.api import router as analytics_router
    from mahalle.audit.api import router as audit_router
    from mahalle.cases.api import router as cases_router
    from mahalle.geo.api import router as geo_router
    from mahalle.needs.api import router as needs_router
    from mahalle.registry.api import router as registry_router
    from mahalle.registry.api_imports import router as imports_router
    from mahalle.screening.api import field_router
    from mahalle.screening.api import router as screening_router
    from mahalle.tracing.api import router as tracing_router

    api.add_router("/org-units", geo_router)
    api.add_router("/accounts", accounts_router)
    api.add_router("/audit", audit_router)
    api.add_router("/registry/imports", imports_router)
    api.add_router("/registry", registry_router)
    api.add_router("/screening", screening_router)
    api.add_router("/field", field_router)
    api.add_router("/cases", cases_router)
    api.add_router("/tracing", tracing_router)
    api.add_router("/needs", needs_router)
    api.add_router("/aid", aid_router)
    api.add_router("/analytics", analytics_router)


_register_routers()
