"""`python -m caxton` runs the CLI."""

from caxton.cli import entry

entry()
