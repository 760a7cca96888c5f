"""The TUI's widgets, one per module, each with its stylesheet beside it."""
