"""Layer 2, the runtime: the connector daemon built on the contract.

The Connector base and its context, the plugin manager and its hooks, the configuration, the
store (SQLite built in), the result receiver, the outbox and the loops, the tenants, the
status page and the metrics. It imports the contract and nothing above it; its public names
are re-exported from `assessio_connect` (and the Store's from `assessio_connect.store`).
"""
