"""Tools: the registry, the WebAssembly sandbox host, built-in tools and MCP interop."""
