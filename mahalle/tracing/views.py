"""Pages of the tracing area (thin: parse, call a selector or service, render)."""
