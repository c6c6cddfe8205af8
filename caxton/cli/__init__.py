"""The command-line interface: one module per command group, imported lazily."""
