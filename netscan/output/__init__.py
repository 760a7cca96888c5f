"""Terminal output for the CLI."""
