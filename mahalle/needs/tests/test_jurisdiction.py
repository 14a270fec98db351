"""The needs part of the jurisdiction matrix (see mahalle/tests/test_jurisdiction_matrix.py)."""

PERSONAL_ROUTES: dict = {}
NON_PERSONAL_ROUTES: set = set()
