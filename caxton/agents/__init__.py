"""The agent configuration model and its checks."""
