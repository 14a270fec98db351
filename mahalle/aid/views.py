"""Pages of the aid area (thin: parse, call a selector or service, render)."""
