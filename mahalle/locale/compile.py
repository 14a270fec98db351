"""Compile mahalle/locale/*/LC_MESSAGES/django.po to django.mo with polib (no gettext tools needed).

    python mahalle/locale/compile.py          # write the .mo files
    python mahalle/locale/compile.py --check  # exit 1 if a committed .mo is missing or stale

Extracting new strings still needs gettext (`manage.py makemessages -l fa`, run from mahalle/);
only compiling is done here, so a bare machine can build the catalog the server loads.
"""

import sys
import tempfile
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent


def compiled_bytes(po_path: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "django.mo"
        polib.pofile(str(po_path)).save_as_mofile(str(target))
        return target.read_bytes()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        data = compiled_bytes(po_path)
        if mo_path.exists() and mo_path.read_bytes() == data:
            continue
        if check:
            stale.append(str(mo_path))
        else:
            mo_path.write_bytes(data)
            print(f"compiled {mo_path}")
    if stale:
        print("stale or missing (run `make messages`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
