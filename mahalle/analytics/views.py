"""Pages of the analytics area (thin: parse, call a selector or service, render)."""
