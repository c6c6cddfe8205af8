"""Workspace discovery, `caxton.toml`, config parsing and validation, templates."""
