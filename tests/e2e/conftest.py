"""End-to-end tests use the same simulator fixtures as the integration tests."""

from tests.integration.conftest import sim, sim_options, sync_ctx, sync_settings

__all__ = ["sim", "sim_options", "sync_ctx", "sync_settings"]
