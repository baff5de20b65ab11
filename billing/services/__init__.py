"""Use cases: each function opens its transaction, checks who may, applies the domain's rules,
writes through the repositories and records the audit event. Routes, the CLI, the worker and
the demo all go through these."""
