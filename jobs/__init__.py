"""Job declarations, the worker that runs them, and the Redis layout they share.

`jobs` never imports `service`: the worker runs without the web process.
"""
