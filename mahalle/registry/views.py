from django.shortcuts import render  # noqa: F401  pages of the registry (search, detail) live here
