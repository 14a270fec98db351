"""Which role may do what: the one capability table.

Jurisdiction (which records) is separate and always applies on top: a user acts only inside the subtrees of
their org units (accounts.selectors). A capability says what kind of act a role may do at all.

Services check a capability with `require(actor, Can.X, message)` (403 when missing); pages and API use
`may(user, Can.X)` to decide what to offer. A new app adds its capabilities here, in one place, so a reviewer
reads every role's powers in one table (docs/architecture.md).
"""

from enum import StrEnum

from mahalle.core.errors import PermissionDenied

from .roles import Role

EVERYONE = frozenset(Role)
COORDINATORS = frozenset({Role.COUNTY_COORDINATOR, Role.PROVINCE_COORDINATOR, Role.NATIONAL_COORDINATOR})
MANAGERS = COORDINATORS | {Role.ADMINISTRATOR}  # coordinators at every level and administrators
SUPERVISORS_UP = MANAGERS | {Role.POST_SUPERVISOR}

# The role sets the rest of the code names (kept as names: templates, docs and tests read them).
PERSONAL_DATA_ROLES = EVERYONE - {Role.ANALYST}
PERSONAL_DATA_WRITE_ROLES = SUPERVISORS_UP | {Role.FIELD_VOLUNTEER}
IMPORT_ROLES = SUPERVISORS_UP
AUDIT_ROLES = MANAGERS
REPORT_ROLES = AUDIT_ROLES | {Role.ANALYST}  # aggregate reports (Rt by province and county, …)


class Can(StrEnum):
    """Every capability, named `<area>.<act>`."""

    READ_PERSONAL = "personal.read"
    WRITE_PERSONAL = "personal.write"
    IMPORT = "registry.import"
    READ_AUDIT = "audit.read"
    READ_REPORTS = "reports.read"
    MANAGE_USERS = "accounts.manage"
    MANAGE_CAMPAIGNS = "screening.campaigns"
    MANAGE_CASES = "cases.manage"
    CREATE_PLACES = "cases.places"
    RECORD_FOLLOW_UPS = "cases.follow_ups"
    TRACE = "tracing.trace"
    ASSIGN_TRACING = "tracing.assign"
    UPLOAD_LISTS = "needs.upload"
    ANY_AGENCY = "needs.any_agency"
    LINK = "needs.link"
    REVIEW_LINKS = "needs.review"
    MANAGE_PROGRAMS = "aid.programs"
    MANAGE_STOCK = "aid.stock"
    DELIVER = "aid.deliver"


CAPABILITIES: dict[Can, frozenset[Role]] = {
    Can.READ_PERSONAL: PERSONAL_DATA_ROLES,
    Can.WRITE_PERSONAL: PERSONAL_DATA_WRITE_ROLES,
    Can.IMPORT: IMPORT_ROLES,
    Can.READ_AUDIT: AUDIT_ROLES,
    Can.READ_REPORTS: REPORT_ROLES,
    Can.MANAGE_USERS: frozenset({Role.ADMINISTRATOR}),
    # campaigns are set up by supervisors and coordinators, not by the volunteers who screen
    Can.MANAGE_CAMPAIGNS: SUPERVISORS_UP,
    # sample referrals, record or correct lab results, classification, hospitalisation, outcome, isolation,
    # alerts. Labs post results with an API token of such a user; there is no separate lab role.
    Can.MANAGE_CASES: SUPERVISORS_UP,
    Can.CREATE_PLACES: MANAGERS,
    Can.RECORD_FOLLOW_UPS: PERSONAL_DATA_WRITE_ROLES,
    # list, add, confirm and remove contacts, their follow-ups, events and attendees
    Can.TRACE: PERSONAL_DATA_WRITE_ROLES,
    # assign contacts to a tracer or team, record who infected whom
    Can.ASSIGN_TRACING: SUPERVISORS_UP,
    Can.UPLOAD_LISTS: IMPORT_ROLES | {Role.PARTNER_STAFF},
    # upload for any agency of the jurisdiction, not only one's own
    Can.ANY_AGENCY: MANAGERS,
    Can.LINK: IMPORT_ROLES,
    Can.REVIEW_LINKS: IMPORT_ROLES,
    # define programs, run and approve cycles, decide flags, payments, approve allocations, define items
    Can.MANAGE_PROGRAMS: MANAGERS,
    # receive, transfer, write off and adjust stock, confirm deliveries as a supervisor, lend equipment
    Can.MANAGE_STOCK: SUPERVISORS_UP,
    Can.DELIVER: PERSONAL_DATA_WRITE_ROLES,
}


def roles_with(capability: Can) -> frozenset[Role]:
    return CAPABILITIES[capability]


def may(user, capability: Can) -> bool:
    """Whether this user's role has the capability (an anonymous or inactive user has none)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.role in CAPABILITIES[capability]
    )


def require(actor, capability: Can, message: str) -> None:
    """Refuse (PermissionDenied, 403) an actor whose role lacks the capability."""
    if not may(actor, capability):
        raise PermissionDenied(message)
