"""`python -m caxton` runs the CLI."""

from caxton.cli.app import run

run()
