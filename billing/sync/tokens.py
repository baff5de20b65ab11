"""Access tokens for Smartcar connections, refreshed exactly once however many ask.

Refresh tokens rotate: every refresh returns a new one and the old one dies shortly after. Two
processes refreshing the same connection would leave one of them holding a dead token, so a
refresh happens under the connection's row lock (across processes) and a per-connection
asyncio lock (so a process's coroutines queue in memory, not on database connections). The
new pair is committed before anyone uses it. A refresh whose answer was lost (timeout) is
retried once with the same old refresh token, which Smartcar still accepts for a short grace
window; a rejected refresh marks the connection and its vehicles `needs_reauth`.

A forced refresh (the access token was refused with a 401) names the generation of the
rejected token, and proactive upkeep re-checks the refresh token's age under the row lock, so
whoever comes second finds the pair already replaced and uses it. Tokens no configured key
decrypts mark the connection `needs_key`: nothing is called for it until a process holding the
key finds it readable again (`revive`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from billing.crypto import TokenCipher, TokenDecryptError, fingerprint
from billing.db import tokens
from billing.db.pool import Pool, transaction
from billing.db.sync_vehicles import StoredAccess
from billing.smartcar.client import SmartcarClient, TokenGrant
from billing.smartcar.errors import SmartcarError

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
PROACTIVE_AGE = timedelta(days=45)


class ConnectionBroken(Exception):
    """The connection needs the employee to reconnect through Smartcar Connect."""

    def __init__(self, error: SmartcarError) -> None:
        super().__init__(error.description)
        self.error = error


@dataclass(frozen=True, slots=True)
class Access:
    """An access token and the generation of the pair it belongs to."""

    token: str
    generation: int


def needs_key_error(connection_id: UUID) -> dict[str, Any]:
    return {
        "type": "NEEDS_KEY",
        "code": None,
        "status": None,
        "request_id": None,
        "retry_after_s": None,
        "description": f"no key in BILLING_SECRET_KEY decrypts connection {connection_id}'s "
        "tokens; nothing was called",
    }


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

    async def access_token(self, connection_id: UUID, now: datetime) -> str:
        return (await self.access(connection_id, now)).token

    async def access(
        self,
        connection_id: UUID,
        now: datetime,
        *,
        rejected: Access | None = None,
        stored: StoredAccess | None = None,
    ) -> Access:
        """A valid access token, refreshing the pair if it expires within the margin.

        `rejected`: the access token Smartcar refused (401) although it looked valid; the
        pair is refreshed unless someone already replaced that token's generation.
        `stored`: the access token as read with the vehicle (its connection was active then),
        so it is not read again.
        """
        try:
            if stored is None or rejected is not None:
                row = await tokens.pair(self.pool, connection_id)
                if row is None:
                    raise LookupError(f"no Smartcar connection {connection_id}")
                self._check_active(row)
                stored = StoredAccess(
                    row.id, row.access_token_enc, row.access_expires_at, row.generation
                )
            if rejected is None and stored.access_expires_at - REFRESH_MARGIN > now:
                return Access(self.cipher.decrypt(stored.access_token_enc), stored.generation)
            seen = rejected.generation if rejected is not None else stored.generation
            async with self._lock(connection_id):
                access, _ = await self._refresh(
                    connection_id, now, seen_generation=seen, force=rejected is not None
                )
                return access
        except TokenDecryptError:
            await self._mark_needs_key(connection_id)
            raise

    async def _refresh(
        self,
        connection_id: UUID,
        now: datetime,
        *,
        seen_generation: int | None,
        force: bool,
        stale_before: datetime | None = None,
    ) -> tuple[Access, bool]:
        """The current pair, refreshed if still needed under the row lock; True if it was."""
        broken: SmartcarError | None = None
        async with transaction(self.pool) as conn:
            row = await tokens.lock_pair(conn, connection_id)
            assert row is not None
            self._check_active(row)
            current = Access(self.cipher.decrypt(row.access_token_enc), row.generation)
            if stale_before is not None:
                if row.refresh_issued_at >= stale_before:
                    return current, False  # refreshed since it was found stale
            elif row.generation != seen_generation:
                return current, False  # someone else refreshed
            elif not force and row.access_expires_at - REFRESH_MARGIN > now:
                return current, False
            old_refresh = self.cipher.decrypt(row.refresh_token_enc)
            try:
                grant = await self._call_refresh(old_refresh, now)
            except SmartcarError as error:
                if error.advice != "needs_reauth":
                    raise
                vehicles = await tokens.mark_broken(conn, connection_id, error.to_json())
                log.warning(
                    "Smartcar refused to refresh connection %s (%s); %d vehicle(s) need the "
                    "employee to reconnect",
                    connection_id,
                    error.description,
                    vehicles,
                )
                broken = error  # committed when the block ends, then raised
            else:
                new_refresh = _plain(grant.refresh_token)
                generation = await tokens.store_refreshed(
                    conn,
                    connection_id,
                    access_token_enc=self.cipher.encrypt(_plain(grant.access_token)),
                    refresh_token_enc=self.cipher.encrypt(new_refresh),
                    access_expires_at=grant.access_expires_at,
                    received_at=grant.received_at,
                    refresh_fingerprint=fingerprint(new_refresh),
                )
        if broken is not None:
            raise ConnectionBroken(broken)
        log.info("refreshed Smartcar connection %s", connection_id)
        return Access(_plain(grant.access_token), generation), True

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

    async def _mark_needs_key(self, connection_id: UUID) -> None:
        await tokens.mark_needs_key(self.pool, connection_id, needs_key_error(connection_id))
        log.error(
            "no key in BILLING_SECRET_KEY decrypts Smartcar connection %s; it is skipped until "
            "a process with its key runs",
            connection_id,
        )

    def _check_active(self, row: tokens.StoredPair) -> None:
        if row.state == "needs_reauth":
            raise ConnectionBroken(SmartcarError.from_json(row.last_error or {}))

    async def revive(self) -> int:
        """Connections marked `needs_key` that this process's keys read: active again."""
        revived = 0
        for row in await tokens.unreadable(self.pool):
            try:
                self.cipher.decrypt(row.access_token_enc)
                self.cipher.decrypt(row.refresh_token_enc)
            except TokenDecryptError:
                continue
            revived += await tokens.revive(self.pool, row.id)
        if revived:
            log.info("%d Smartcar connection(s) readable again with BILLING_SECRET_KEY", revived)
        return revived

    async def refresh_stale(self, now: datetime, limit: int = 100) -> int:
        """Refresh connections whose refresh token nears the 60-day limit; returns how many."""
        stale_before = now - PROACTIVE_AGE
        done = 0
        for connection_id in await tokens.stale(self.pool, stale_before, limit):
            try:
                async with self._lock(connection_id):
                    _, refreshed = await self._refresh(
                        connection_id,
                        now,
                        seen_generation=None,
                        force=True,
                        stale_before=stale_before,
                    )
                done += refreshed
            except TokenDecryptError:
                await self._mark_needs_key(connection_id)
            except (ConnectionBroken, SmartcarError) as exc:
                log.warning("proactive refresh of connection %s failed: %s", connection_id, exc)
        return done
