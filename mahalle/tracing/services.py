"""Services of the tracing area (see ARCHITECTURE.md house conventions)."""
