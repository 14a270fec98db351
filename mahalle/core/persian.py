"""The one Persian text normaliser. Every boundary where text enters Mahalle calls it.

Why not a library: hazm/parsivar normalise well but pull in NLTK-sized dependencies and change spacing
rules between versions; the rules we need are a dozen character maps, kept here, tested, and stable
because the linkage keys and search keys stored in the database depend on them never drifting.
"""

import re
import unicodedata

ZWNJ = "\u200c"
_CHAR_MAP = {
    "\u064a": "\u06cc",  # Arabic yeh ي -> Persian yeh ی
    "\u0649": "\u06cc",  # alef maksura ى -> ی
    "\u06d2": "\u06cc",  # yeh barree ے -> ی
    "\u0643": "\u06a9",  # Arabic kaf ك -> Persian keheh ک
    "\u06c0": "\u0647",  # heh with yeh above ۀ -> ه (the ezafe mark is written, not part of the name)
    "\u0629": "\u0647",  # teh marbuta ة -> ه
    "\u0640": "",  # tatweel ـ
    "\u200d": "",  # zero-width joiner
    "\u200e": "",  # left-to-right mark
    "\u200f": "",  # right-to-left mark
    "\u202a": "",
    "\u202b": "",
    "\u202c": "",
    "\u202d": "",
    "\u202e": "",  # bidi embeddings
    "\ufeff": "",  # BOM / zero-width no-break space
    "\u00a0": " ",  # no-break space
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u200b": ZWNJ,  # zero-width space is used as a ZWNJ by some keyboards
    "\u00ac": ZWNJ,  # NOT SIGN is what a ZWNJ becomes through some Windows-1256 round trips
}
# Persian (۰-۹) and Arabic-Indic (٠-٩) digits to ASCII; the table alone serves code that only needs digits
# (vectorised `str.translate` over a column of national codes, say).
_DIGITS = {chr(0x06F0 + i): str(i) for i in range(10)} | {chr(0x0660 + i): str(i) for i in range(10)}
DIGITS_TO_ASCII = str.maketrans(_DIGITS)
_CHAR_MAP |= _DIGITS
_TRANSLATE = str.maketrans(_CHAR_MAP)
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")  # harakat, superscript alef, Quranic marks
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_ZWNJ_RUN = re.compile(f"{ZWNJ}+")
_ZWNJ_AT_SPACE = re.compile(f" ?{ZWNJ} ?")
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def normalize_text(value: object) -> str:
    """Canonical form for storage: Persian letters, ASCII digits, one space, single ZWNJ, no marks."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value)).translate(_TRANSLATE)
    text = _DIACRITICS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _ZWNJ_RUN.sub(ZWNJ, text)
    text = _ZWNJ_AT_SPACE.sub(lambda m: " " if " " in m.group(0) else ZWNJ, text)
    return text.strip(" " + ZWNJ)


def search_key(value: object) -> str:
    """Key for matching: the normalised text without spaces or ZWNJ, lower-cased (Latin input too).

    "محمد رضا", "محمدرضا", "محمد‌رضا" and "محمد رضا" with Arabic yeh all give the same key.
    """
    text = normalize_text(value).replace(" ", "").replace(ZWNJ, "").replace("-", "")
    return text.lower()


def normalize_digits(value: object) -> str:
    """Digits only, as ASCII, from any mix of Persian/Arabic-Indic/ASCII digits and separators."""
    return re.sub(r"\D", "", normalize_text(value))


def to_persian_digits(value: object) -> str:
    """For display in the Persian UI."""
    return str(value).translate(_PERSIAN_DIGITS)
