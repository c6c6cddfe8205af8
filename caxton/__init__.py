"""Caxton: multi-agent LLM systems from plain TOML files (the headless core and the CLI)."""

__version__ = "0.1.0"
