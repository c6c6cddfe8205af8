"""Memory: the shipped embedding model, the DuckDB knowledge graph, hybrid search."""
