"""Use cases: each function owns its transaction, its checks and its audit event."""
