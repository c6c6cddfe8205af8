"""The agent runtime: on-demand execution of requests, limits and budgets."""
