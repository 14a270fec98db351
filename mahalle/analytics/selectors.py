"""Selectors of the analytics area (see ARCHITECTURE.md house conventions)."""
