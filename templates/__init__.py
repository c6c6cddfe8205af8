"""The agent templates and the workspace skeleton, shipped inside the package."""
