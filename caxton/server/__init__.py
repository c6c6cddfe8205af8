"""The Caxton server: auth now; the HTTP API, embedded mode and observability build on it."""
