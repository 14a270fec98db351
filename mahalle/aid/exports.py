"""Files for the paying agency: payment instructions as CSV (UTF-8 with BOM, for Excel) or XLSX, and the
results file read back (CSV or XLSX, header row: reference, status, paid_on, note)."""

import csv
import io

from django.http import HttpResponse
from openpyxl import Workbook, load_workbook

from mahalle.core.errors import ValidationFailed, field_error

PAYMENT_COLUMNS = ["reference", "national_code", "name", "mobile", "amount"]  # services.payments_export_rows
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESULT_COLUMNS = ["reference", "status", "paid_on", "note"]


def payments_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PAYMENT_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def payments_xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("payments")
    sheet.append(PAYMENT_COLUMNS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def payments_response(rows: list[list[str]], name: str, file_format: str = "csv") -> HttpResponse:
    """The payment instructions as a download: XLSX when asked for, CSV otherwise."""
    if file_format == "xlsx":
        response = HttpResponse(payments_xlsx(rows), content_type=XLSX_TYPE)
    else:
        file_format = "csv"
        response = HttpResponse(payments_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
    return response


def results_read(name: str, data: bytes) -> list[dict]:
    """The rows of a results file as dicts (keys lower-cased); a missing `reference` column is an error."""
    if name.lower().endswith(".xlsx"):
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True).active
            table = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same answer
            raise ValidationFailed(
                "the file is not valid", [field_error("file", "not a readable XLSX")]
            ) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1256", errors="replace")
        table = list(csv.reader(io.StringIO(text)))
    if not table:
        raise ValidationFailed("the file is not valid", [field_error("file", "empty")])
    header = [h.strip().lower() for h in table[0]]
    if "reference" not in header:
        raise ValidationFailed("the file is not valid", [field_error("file", "no 'reference' column")])
    return [dict(zip(header, row, strict=False)) for row in table[1:] if any(cell.strip() for cell in row)]
