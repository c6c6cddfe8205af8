"""Capability routing: which agent takes a request, and why."""
