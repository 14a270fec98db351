"""Iranian national codes and mobile numbers: validation and canonical forms."""

from .persian import normalize_digits


class InvalidIdentifier(ValueError):
    """The value is not a valid identifier; the message says why in plain words."""


def national_code_checksum_ok(code: str) -> bool:
    if len(code) != 10 or not code.isdigit():
        return False
    total = sum(int(code[i]) * (10 - i) for i in range(9)) % 11
    check = int(code[9])
    return check == total if total < 2 else check == 11 - total


def normalize_national_code(value: object) -> str:
    """Return the 10-digit code, or raise InvalidIdentifier.

    Accepts Persian/Arabic-Indic digits and separators (spaces, dashes, dots). Spreadsheets often drop
    leading zeros, so 8 or 9 digits are left-padded before the check digit is verified.
    """
    digits = normalize_digits(value)
    if not digits:
        raise InvalidIdentifier("national code is empty")
    if len(digits) in (8, 9):
        digits = digits.zfill(10)
    if len(digits) != 10:
        raise InvalidIdentifier(f"national code must have 10 digits, got {len(digits)}")
    if len(set(digits)) == 1:
        raise InvalidIdentifier("national code cannot be one digit repeated")
    if not national_code_checksum_ok(digits):
        raise InvalidIdentifier("national code check digit does not match")
    return digits


def national_code_with_check_digit(first_nine: str) -> str:
    """Complete nine digits with their check digit (used by the synthetic generator)."""
    total = sum(int(first_nine[i]) * (10 - i) for i in range(9)) % 11
    return first_nine + str(total if total < 2 else 11 - total)


def normalize_mobile(value: object) -> str:
    """Return an Iranian mobile as 09XXXXXXXXX, or raise InvalidIdentifier.

    Accepts +98 / 0098 / 98 / 0 / no prefix, any digits, any separators.
    """
    digits = normalize_digits(value)
    if not digits:
        raise InvalidIdentifier("mobile number is empty")
    for prefix in ("0098", "98", "0"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 10:
            digits = digits[len(prefix) :]
            break
    if len(digits) != 10 or not digits.startswith("9"):
        raise InvalidIdentifier("mobile number must be an Iranian mobile (09xx xxx xxxx)")
    return "0" + digits
