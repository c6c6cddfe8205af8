"""LLM providers as tools: OpenAI-compatible, Anthropic, and deterministic test models."""
