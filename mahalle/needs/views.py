"""Pages of the needs area (thin: parse, call a selector or service, render)."""
