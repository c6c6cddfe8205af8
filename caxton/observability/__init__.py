"""Traces (spans with OpenTelemetry GenAI names), and later metrics and logs."""
