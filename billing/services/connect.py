"""Smartcar Connect: starting it for an employee and finishing it when Smartcar sends them back.

The signed `state` is bound to the browser that started the flow: starting sets a random
value in an HttpOnly cookie and signs its SHA-256 into the state; the callback accepts the
state only from a browser holding that cookie. A link forwarded to someone else fails there.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from yarl import URL

from billing.config import Settings
from billing.crypto import BadState, TokenCipher, sign_state, verify_state
from billing.db import audit, connect, master
from billing.db.connect import LinkedVehicle
from billing.db.pool import Pool, connection, transaction
from billing.domain.access import Principal
from billing.domain.errors import Conflict, Forbidden
from billing.smartcar.client import SmartcarClient
from billing.smartcar.errors import SmartcarError

log = logging.getLogger(__name__)
SCOPES = "read_charge_records read_vehicle_info"
STATE_TTL = timedelta(minutes=30)
BIND_COOKIE = "fb_connect"
BIND_PATH = "/v1/connect/callback"


def new_binding() -> str:
    """The browser's half of a Connect flow: a random value for its cookie."""
    return secrets.token_urlsafe(24)


def _bind_hash(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


async def start_connect(
    pool: Pool,
    settings: Settings,
    who: Principal,
    employee_id: UUID,
    *,
    binding: str,
    now: datetime,
) -> str:
    """The Smartcar Connect URL for the employee, with a state bound to `binding`."""
    async with connection(pool) as conn:
        employee = await master.get_employee(conn, employee_id)
    who.check_sees(employee.fleet_id, employee.id, what="employee")
    if who.role == "hr" or (who.role == "employee" and who.employee_id != employee.id):
        raise Forbidden("only a manager or the employee may connect the employee's car")
    if settings.smartcar_client_id is None or settings.smartcar_redirect_uri is None:
        raise Conflict(
            "the Smartcar application is not configured: set BILLING_SMARTCAR_CLIENT_ID, "
            "BILLING_SMARTCAR_CLIENT_SECRET and BILLING_SMARTCAR_REDIRECT_URI"
        )
    assert settings.secret_key is not None
    state = sign_state(
        settings.secret_key.get_secret_value(),
        {
            "employee_id": str(employee.id),
            "nonce": secrets.token_urlsafe(24),
            "exp": int((now + STATE_TTL).timestamp()),
            "by": who.actor,
            "bind": _bind_hash(binding),
        },
    )
    target = (
        URL(str(settings.smartcar_connect_url))
        .with_path("/oauth/authorize")
        .with_query(
            response_type="code",
            client_id=settings.smartcar_client_id,
            redirect_uri=str(settings.smartcar_redirect_uri),
            scope=SCOPES,
            mode="live",
            make="TESLA",
            state=state,
        )
    )
    return str(target)


@dataclass(frozen=True)
class ConnectOutcome:
    """What the person coming back from Smartcar is told, in plain words."""

    title: str
    message: str
    status: int
    lines: list[str] = field(default_factory=list)


_ERRORS = {
    "access_denied": "You did not allow access to your car.",
    "vehicle_incompatible": "This car cannot share its charge records through Smartcar.",
    "no_vehicles": "No car was found in this account.",
}
_LINES = {
    "connected": "connected",
    "reconnected": "reconnected",
    "awaiting_manager": "already belongs to another employee: it was not moved; your fleet "
    "manager has been asked to confirm the change",
    "elsewhere": "is registered elsewhere: it was not linked; ask your fleet manager",
}


def _describe(v: LinkedVehicle) -> str:
    return f"Car …{v.smartcar_vehicle_id[-6:]} {_LINES[v.outcome]}."


async def finish_connect(
    pool: Pool,
    cipher: TokenCipher,
    client: SmartcarClient,
    settings: Settings,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    binding: str | None,
    now: datetime,
) -> ConnectOutcome:
    assert settings.secret_key is not None
    invalid = "This link is not valid"
    try:
        if not state:
            raise BadState("the link has no state")
        payload = verify_state(settings.secret_key.get_secret_value(), state, int(now.timestamp()))
        employee_id = UUID(str(payload["employee_id"]))
        nonce = str(payload["nonce"])
        bound = str(payload["bind"])
    except BadState as exc:
        return ConnectOutcome(invalid, f"{exc}. Please start again from the app.", 400)
    except (KeyError, ValueError, TypeError):
        return ConnectOutcome(invalid, "The link is malformed. Please start again.", 400)
    if binding is None or not hmac.compare_digest(_bind_hash(binding), bound):
        return ConnectOutcome(
            "This link belongs to another browser",
            "Connecting a car must be finished in the browser that started it. If someone "
            "sent you this link, start from your own page instead.",
            400,
        )
    async with transaction(pool) as conn:
        employee = await master.get_employee(conn, employee_id)
        # consumed whatever happens next, so neither a result nor an error page is replayable
        if not await connect.consume_state(conn, nonce, employee_id):
            return ConnectOutcome(
                "This link was already used",
                "Each connection link works once. Please start again.",
                400,
            )
    if error:
        log.info("Connect ended with %s", error)
        reason = _ERRORS.get(error, "Smartcar could not connect your car.")
        return ConnectOutcome(
            "Your car was not connected", f"{reason} You can try again any time.", 400
        )
    if not code:
        return ConnectOutcome(invalid, "Smartcar sent no authorization code.", 400)
    try:
        grant = await client.exchange_code(code, now=now)
        token = grant.access_token.get_secret_value()
        user_id = await client.user_id(token, now=now)
        vehicle_ids = await client.vehicle_ids(token, now=now)
    except SmartcarError as exc:
        log.warning("Connect code exchange failed: %s", exc)
        return ConnectOutcome(
            "Your car was not connected",
            "Smartcar could not complete the connection. Please try again.",
            502,
        )
    actor = str(payload.get("by", "connect"))
    async with transaction(pool) as conn:
        stored = await connect.store_connection(
            conn,
            cipher,
            employee=employee,
            smartcar_user_id=user_id,
            grant=grant,
            vehicle_ids=vehicle_ids,
            now=now,
            actor=actor,
        )
        await audit.record_batches(conn, actor=actor, batches=stored.events)
    linked = stored.vehicles
    done = sum(v.outcome in ("connected", "reconnected") for v in linked)
    return ConnectOutcome(
        f"Thank you, {employee.name}",
        f"{done} car(s) are now connected. Home charging will be read daily.",
        200,
        [_describe(v) for v in linked],
    )
