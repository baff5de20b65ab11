"""Access tokens for Smartcar connections, refreshed exactly once however many ask.

Refresh tokens rotate: every refresh returns a new one and the old one dies shortly after. Two
processes refreshing the same connection would leave one of them holding a dead token, so a
refresh happens under the connection's row lock (across processes) and a per-connection
asyncio lock (so a process's coroutines queue in memory, not on database connections). The
new pair is committed before anyone uses it. A refresh whose answer was lost (timeout) is
retried once with the same old refresh token, which Smartcar still accepts for a short grace
window; a rejected refresh marks the connection and its vehicles `needs_reauth`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from billing.crypto import TokenCipher
from billing.db.pool import Connection, Pool, transaction
from billing.db.queries import queries
from billing.smartcar.client import SmartcarClient, TokenGrant
from billing.smartcar.errors import SmartcarError

_q = queries("connections")
log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
PROACTIVE_AGE = timedelta(days=45)


class ConnectionBroken(Exception):
    """The connection needs the employee to reconnect through Smartcar Connect."""

    def __init__(self, error: SmartcarError) -> None:
        super().__init__(error.description)
        self.error = error


def _plain(value: Any) -> str:
    return str(value.get_secret_value()) if hasattr(value, "get_secret_value") else str(value)


@dataclass
class TokenKeeper:
    pool: Pool
    cipher: TokenCipher
    client: SmartcarClient
    _locks: dict[UUID, asyncio.Lock] = field(default_factory=dict)

    def _lock(self, connection_id: UUID) -> asyncio.Lock:
        return self._locks.setdefault(connection_id, asyncio.Lock())

    async def access_token(
        self, connection_id: UUID, now: datetime, *, force_refresh: bool = False
    ) -> str:
        """A valid access token, refreshing the pair if it expires within the margin.

        `force_refresh` is for an access token Smartcar rejected (401) although it looked valid.
        """
        row = await self.pool.fetchrow(_q.get_connection, connection_id)
        if row is None:
            raise LookupError(f"no Smartcar connection {connection_id}")
        self._check_active(row)
        if not force_refresh and row["access_expires_at"] - REFRESH_MARGIN > now:
            return self.cipher.decrypt(row["access_token_enc"])
        async with self._lock(connection_id):
            return await self._refresh(connection_id, now, row["generation"], force_refresh)

    async def _refresh(
        self, connection_id: UUID, now: datetime, seen_generation: int, force: bool
    ) -> str:
        broken: SmartcarError | None = None
        async with transaction(self.pool) as conn:
            row = await conn.fetchrow(_q.lock_connection, connection_id)
            assert row is not None
            self._check_active(row)
            fresh = row["access_expires_at"] - REFRESH_MARGIN > now
            if row["generation"] != seen_generation or (fresh and not force):
                return self.cipher.decrypt(row["access_token_enc"])  # someone else refreshed
            old_refresh = self.cipher.decrypt(row["refresh_token_enc"])
            try:
                grant = await self._call_refresh(old_refresh, now)
            except SmartcarError as error:
                if error.advice != "needs_reauth":
                    raise
                await self._mark_broken(conn, connection_id, error)
                broken = error  # committed when the block ends, then raised
            else:
                await conn.execute(
                    _q.store_refreshed,
                    connection_id,
                    self.cipher.encrypt(_plain(grant.access_token)),
                    self.cipher.encrypt(_plain(grant.refresh_token)),
                    grant.access_expires_at,
                    grant.received_at,
                )
        if broken is not None:
            raise ConnectionBroken(broken)
        log.info("refreshed Smartcar connection %s", connection_id)
        return _plain(grant.access_token)

    async def _call_refresh(self, refresh_token: str, now: datetime) -> TokenGrant:
        try:
            return await self.client.refresh(refresh_token, now=now)
        except SmartcarError as error:
            if not error.outcome_unknown:
                raise
            # The answer was lost; Smartcar may have rotated already. The old token is still
            # accepted within the grace window, so ask again with it, once.
            log.warning("Smartcar token refresh timed out; retrying with the same refresh token")
            return await self.client.refresh(refresh_token, now=now)

    async def _mark_broken(
        self, conn: Connection, connection_id: UUID, error: SmartcarError
    ) -> None:
        await conn.execute(_q.mark_needs_reauth, connection_id, error.to_json())
        rows = await conn.fetch(_q.vehicles_need_reauth, connection_id, error.to_json())
        log.warning(
            "Smartcar refused to refresh connection %s (%s); %d vehicle(s) need the employee "
            "to reconnect",
            connection_id,
            error.description,
            len(rows),
        )

    def _check_active(self, row: Any) -> None:
        if row["state"] == "needs_reauth":
            raise ConnectionBroken(SmartcarError.from_json(row["last_error"]))

    async def refresh_stale(self, now: datetime, limit: int = 100) -> int:
        """Refresh connections whose refresh token nears the 60-day limit; returns how many."""
        rows = await self.pool.fetch(_q.stale_connections, now - PROACTIVE_AGE, limit)
        done = 0
        for row in rows:
            try:
                await self.access_token(row["id"], now, force_refresh=True)
                done += 1
            except (ConnectionBroken, SmartcarError) as exc:
                log.warning("proactive refresh of connection %s failed: %s", row["id"], exc)
        return done
