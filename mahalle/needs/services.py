"""Services of the needs area (see ARCHITECTURE.md house conventions)."""
