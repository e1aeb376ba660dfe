"""Layer 7, the tools: the `assessio-connect` command line, the demo's runner, the connector
scaffold and the built-in plugin (registered through the package's entry point).

Nothing below imports this layer; it may import every other one.
"""
