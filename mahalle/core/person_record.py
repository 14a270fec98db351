"""The person-record format every list, import and linkage run shares (ARCHITECTURE.md, "Contracts"): its columns,
in order. Pure data: no Django, so the linkage engine may import it."""

PERSON_RECORD_COLUMNS = (
    "record_id",
    "national_code",
    "first_name",
    "last_name",
    "father_name",
    "birth_date",
    "sex",
    "mobile",
    "province",
    "county",
    "address",
)
