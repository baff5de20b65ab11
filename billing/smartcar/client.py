"""The async Smartcar client: one shared session, bounded concurrency, typed failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, Literal
from urllib.parse import quote

import aiohttp
from pydantic import SecretStr

from billing.config import ConfigError, Settings
from billing.smartcar.error_bodies import error_from_response
from billing.smartcar.errors import SmartcarError, get_header
from billing.smartcar.records import ChargeRecordsResult, json_object, parse_charge_records

log = logging.getLogger(__name__)

# A charge-records answer is a few kilobytes; anything this big is not one.
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024
VEHICLES_PAGE_SIZE: Final = 50
# Guards against a paging object that never ends.
MAX_VEHICLE_PAGES: Final = 100


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A fresh access/refresh token pair; the values stay hidden in repr and logs."""

    access_token: SecretStr
    refresh_token: SecretStr
    access_expires_at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    request_id: str | None


def _user_agent() -> str:
    try:
        return f"fleet-billing/{version('fleet-billing')}"
    except PackageNotFoundError:
        return "fleet-billing"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SmartcarClient:
    """Calls the Smartcar v2 API and token endpoint over a session owned by the caller."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str,
        auth_url: str,
        client_id: str | None,
        client_secret: SecretStr | None,
        redirect_uri: str | None,
        timeout_s: float,
        concurrency: int,
        user_agent: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._session = session
        self._api_url = api_url.rstrip("/")
        self._auth_url = auth_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._user_agent = user_agent or _user_agent()
        # Told of every call: (endpoint kind, HTTP status or failure name). Metrics hook in here.
        self.on_call: Callable[[str, str], None] | None = None

    @classmethod
    def from_settings(cls, session: aiohttp.ClientSession, settings: Settings) -> SmartcarClient:
        return cls(
            session,
            api_url=str(settings.smartcar_api_url),
            auth_url=str(settings.smartcar_auth_url),
            client_id=settings.smartcar_client_id,
            client_secret=settings.smartcar_client_secret,
            redirect_uri=str(settings.smartcar_redirect_uri)
            if settings.smartcar_redirect_uri is not None
            else None,
            timeout_s=settings.smartcar_timeout_s,
            concurrency=settings.smartcar_concurrency,
        )

    async def charge_records(
        self,
        vehicle_id: str,
        access_token: str,
        *,
        start: date | None,
        end: date | None,
        now: datetime,
    ) -> ChargeRecordsResult:
        """Daily Tesla charge totals for one vehicle; dates left as None use Smartcar's defaults."""
        params = {
            name: day.isoformat()
            for name, day in (("startDate", start), ("endDate", end))
            if day is not None
        }
        path = f"/v2.0/vehicles/{_segment(vehicle_id)}/tesla/charge/records"
        response = await self._api_get(path, access_token, params=params, now=now)
        return parse_charge_records(
            response.body, response.headers, now=now, status=response.status
        )

    async def vehicle_ids(self, access_token: str, *, now: datetime | None = None) -> list[str]:
        """Every vehicle id the token can see, across all pages."""
        ids: list[str] = []
        for _ in range(MAX_VEHICLE_PAGES):
            params = {"limit": str(VEHICLES_PAGE_SIZE), "offset": str(len(ids))}
            response = await self._api_get("/v2.0/vehicles", access_token, params=params, now=now)
            data = self._object(response)
            page = data.get("vehicles")
            if not isinstance(page, list) or not all(isinstance(v, str) and v for v in page):
                raise self._bad(response, "vehicles: expected an array of vehicle id strings")
            ids.extend(page)
            paging = data.get("paging")
            total = paging.get("count") if isinstance(paging, dict) else None
            if not page or not isinstance(total, int) or len(ids) >= total:
                return ids
        raise SmartcarError.bad_payload(
            f"vehicles: still paging after {MAX_VEHICLE_PAGES} pages", status=200, request_id=None
        )

    async def user_id(self, access_token: str, *, now: datetime | None = None) -> str:
        """The Smartcar user id behind a token."""
        response = await self._api_get("/v2.0/user", access_token, params={}, now=now)
        user_id = self._object(response).get("id")
        if not isinstance(user_id, str) or not user_id:
            raise self._bad(response, "id: expected a non-empty string")
        return user_id

    async def exchange_code(self, code: str, *, now: datetime) -> TokenGrant:
        """Trade an authorization code from Connect for the first token pair."""
        if self._redirect_uri is None:
            raise ConfigError("BILLING_SMARTCAR_REDIRECT_URI: required to exchange a code")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri,
        }
        return await self._token(form, now=now)

    async def refresh(self, refresh_token: str, *, now: datetime) -> TokenGrant:
        """Trade a refresh token for a new pair; the old refresh token dies shortly after."""
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, now=now
        )

    async def _token(self, form: dict[str, str], *, now: datetime) -> TokenGrant:
        if not self._client_id or self._client_secret is None:
            raise ConfigError(
                "BILLING_SMARTCAR_CLIENT_ID, BILLING_SMARTCAR_CLIENT_SECRET: "
                "required to exchange or refresh tokens"
            )
        headers = self._headers(None)
        headers["Authorization"] = aiohttp.encode_basic_auth(
            self._client_id, self._client_secret.get_secret_value()
        )
        try:
            response = await self._send(
                "POST",
                f"{self._auth_url}/oauth/token",
                log_path="/oauth/token",
                headers=headers,
                data=form,
                now=now,
            )
        except SmartcarError as exc:
            # Refreshing cannot cure a rejection by the token endpoint itself.
            raise exc.escalate() from None
        data = self._object(response)
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in")
        token_type = data.get("token_type", "Bearer")
        problems = [
            f"{name}: expected a non-empty string"
            for name, value in (("access_token", access), ("refresh_token", refresh))
            if not isinstance(value, str) or not value
        ]
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            problems.append("expires_in: expected a positive whole number of seconds")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            problems.append("token_type: expected 'Bearer'")
        if problems:
            raise self._bad(response, "token response: " + "; ".join(problems))
        assert isinstance(access, str)
        assert isinstance(refresh, str)
        assert isinstance(expires_in, int)
        return TokenGrant(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh),
            access_expires_at=now + timedelta(seconds=expires_in),
            received_at=now,
        )

    async def _api_get(
        self,
        path: str,
        access_token: str,
        *,
        params: Mapping[str, str],
        now: datetime | None,
    ) -> _Response:
        return await self._send(
            "GET",
            f"{self._api_url}{path}",
            log_path=path,
            headers=self._headers(access_token),
            params=params,
            now=now,
        )

    def _headers(self, access_token: str | None) -> dict[str, str]:
        # A new dict per request: a shared one once sent one vehicle's token with another's call.
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        return headers

    async def _send(
        self,
        method: Literal["GET", "POST"],
        url: str,
        *,
        log_path: str,
        headers: dict[str, str],
        now: datetime | None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> _Response:
        async with self._semaphore:
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                async with self._session.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    data=data,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as resp:
                    body = await _read_limited(resp)
                    response = _Response(
                        resp.status, resp.headers, body, get_header(resp.headers, "SC-Request-Id")
                    )
            except SmartcarError:
                raise
            except TimeoutError:
                _log(method, log_path, None, None, loop.time() - started, "timeout")
                self._count(log_path, "timeout")
                raise SmartcarError(
                    type="TIMEOUT",
                    description=f"no answer within {self._timeout.total:g} s",
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                _log(method, log_path, None, None, loop.time() - started, type(exc).__name__)
                self._count(log_path, "network")
                raise _network_error(exc) from None
        duration = loop.time() - started
        _log(method, log_path, response.status, response.request_id, duration, None)
        self._count(log_path, str(response.status))
        if 200 <= response.status < 300:
            return response
        raise error_from_response(
            response.status, response.headers, response.body, now=now or _utcnow()
        )

    def _count(self, log_path: str, outcome: str) -> None:
        if self.on_call is not None:
            self.on_call(endpoint_kind(log_path), outcome)

    @staticmethod
    def _object(response: _Response) -> dict[str, Any]:
        return json_object(response.body, status=response.status, request_id=response.request_id)

    @staticmethod
    def _bad(response: _Response, description: str) -> SmartcarError:
        return SmartcarError.bad_payload(
            description, status=response.status, request_id=response.request_id
        )


async def _read_limited(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise SmartcarError.bad_payload(
                f"response larger than {MAX_RESPONSE_BYTES} bytes",
                status=resp.status,
                request_id=get_header(resp.headers, "SC-Request-Id"),
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _network_error(exc: BaseException) -> SmartcarError:
    # Only a failed connect proves the request was never sent; after that a refresh may
    # have rotated the token even though no answer arrived.
    connect = isinstance(exc, aiohttp.ClientConnectorError)
    return SmartcarError(
        type="NETWORK",
        code="CONNECT" if connect else "IO",
        description=f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__,
    )


def endpoint_kind(path: str) -> str:
    """A bounded label for a call's path (paths carry vehicle ids)."""
    if path.endswith("/charge/records"):
        return "charge_records"
    if "token" in path:
        return "token"
    return path.rstrip("/").rsplit("/", 1)[-1] or "other"


def _segment(vehicle_id: str) -> str:
    if not vehicle_id:
        raise ValueError("vehicle_id must not be empty")
    # quote() leaves dots alone, and a "." or ".." segment would name another path
    if vehicle_id in (".", ".."):
        raise SmartcarError(
            type="VALIDATION",
            code="VEHICLE_ID",
            description="the vehicle id is not one Smartcar hands out; nothing was called",
            advice="our_bug",
        )
    return quote(vehicle_id, safe="")


def _log(
    method: str,
    path: str,
    status: int | None,
    request_id: str | None,
    duration_s: float,
    failure: str | None,
) -> None:
    level = (
        logging.INFO
        if failure is None and status is not None and status < 400
        else (logging.WARNING)
    )
    log.log(
        level,
        "smartcar %s %s -> %s",
        method,
        path,
        status if failure is None else failure,
        extra={
            "http_method": method,
            "path": path,
            "status": status,
            "request_id": request_id,  # replaced in rendered logs by the request's own id
            "smartcar_request_id": request_id,
            "duration_ms": round(duration_s * 1000, 1),
        },
    )
