"""Users, authorization codes and tokens: the OAuth side of the simulator.

Every refresh rotates the refresh token. The old one keeps working for the grace window
after its first use, and within it every further use returns the *same* pair the first use
issued (so a client that lost the answer and retries gets what it missed); after the window
it is rejected with `invalid_grant`. Access tokens live until they expire, even after a
refresh. A refresh token unused for `refresh_ttl_s` is dead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

DEFAULT_SCOPES = frozenset({"read_charge_records", "read_vehicle_info"})


class OAuthError(Exception):
    """A rejected OAuth request: `error` and `error_description` of the answer."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": max(0, int((self.access_expires_at - now).total_seconds())),
            "refresh_token": self.refresh_token,
        }


@dataclass
class User:
    user_id: str
    vehicle_ids: list[str]
    granted_at: datetime
    latest: TokenPair | None = None


@dataclass(frozen=True)
class AccessGrant:
    """What a valid access token lets its bearer do."""

    user_id: str
    scopes: frozenset[str]
    expires_at: datetime


@dataclass
class _Refresh:
    user_id: str
    scopes: frozenset[str]
    expires_at: datetime
    used_at: datetime | None = None
    successor: TokenPair | None = None


@dataclass
class _Code:
    user_id: str
    redirect_uri: str
    scopes: frozenset[str]
    expires_at: datetime
    used: bool = False


@dataclass(frozen=True)
class RefreshResult:
    pair: TokenPair
    reused: bool


@dataclass
class Accounts:
    access_ttl: timedelta
    refresh_ttl: timedelta
    grace: timedelta
    code_ttl: timedelta
    users: dict[str, User] = field(default_factory=dict)
    _access: dict[str, AccessGrant] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)

    def issue_pair(self, user_id: str, scopes: frozenset[str], now: datetime) -> TokenPair:
        pair = TokenPair(
            access_token=str(uuid4()),
            refresh_token=str(uuid4()),
            access_expires_at=now + self.access_ttl,
            refresh_expires_at=now + self.refresh_ttl,
        )
        self._access[pair.access_token] = AccessGrant(user_id, scopes, pair.access_expires_at)
        self._refresh[pair.refresh_token] = _Refresh(user_id, scopes, pair.refresh_expires_at)
        self.users[user_id].latest = pair
        return pair

    def issue_code(
        self, user_id: str, redirect_uri: str, scopes: frozenset[str], now: datetime
    ) -> str:
        code = str(uuid4())
        self._codes[code] = _Code(user_id, redirect_uri, scopes, now + self.code_ttl)
        return code

    def exchange_code(self, code: str, redirect_uri: str, now: datetime) -> TokenPair:
        entry = self._codes.get(code)
        if entry is None or entry.used or now >= entry.expires_at:
            raise OAuthError("invalid_grant", "Invalid or expired authorization code")
        if entry.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization")
        entry.used = True
        return self.issue_pair(entry.user_id, entry.scopes, now)

    def refresh(self, token: str, now: datetime) -> RefreshResult:
        entry = self._refresh.get(token)
        if entry is None:
            raise OAuthError("invalid_grant", "Invalid or expired token")
        if entry.used_at is None:
            if now >= entry.expires_at:
                raise OAuthError("invalid_grant", "Invalid or expired token")
            entry.used_at = now
            entry.successor = self.issue_pair(entry.user_id, entry.scopes, now)
            return RefreshResult(entry.successor, reused=False)
        if entry.successor is not None and now <= entry.used_at + self.grace:
            return RefreshResult(entry.successor, reused=True)
        raise OAuthError("invalid_grant", "Invalid or expired token")

    def authenticate(self, token: str, now: datetime) -> AccessGrant | None:
        grant = self._access.get(token)
        if grant is None or now >= grant.expires_at:
            return None
        return grant

    def revoke(self, user_id: str) -> None:
        """Forget every token and code of the user, as when the owner disconnects the app."""
        for table in (self._access, self._refresh, self._codes):
            for token in [t for t, entry in table.items() if entry.user_id == user_id]:
                del table[token]
        self.users[user_id].latest = None
