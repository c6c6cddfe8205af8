"""Built-in tools: C sources, their manifests and the .wasm built from them."""
