"""Services of the aid area (see ARCHITECTURE.md house conventions)."""
