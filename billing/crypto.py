"""Smartcar tokens encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256), rotation by key list."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenDecryptError(Exception):
    """A stored token could not be decrypted with any configured key."""


def parse_keys(raw: str) -> list[Fernet]:
    """Parse `BILLING_SECRET_KEY`: comma-separated Fernet keys, the first one encrypts."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        raise ValueError("needs at least one key (generate one with `billing secret-key`)")
    keys = []
    for position, part in enumerate(parts, start=1):
        try:
            if len(base64.urlsafe_b64decode(part)) != 32:
                raise ValueError
            keys.append(Fernet(part))
        except (ValueError, binascii.Error):
            raise ValueError(
                f"key #{position} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


def new_key() -> str:
    return Fernet.generate_key().decode()


class TokenCipher:
    """Encrypts with the first key, decrypts with any, so keys can be rotated without downtime."""

    def __init__(self, raw_keys: str) -> None:
        self._fernet = MultiFernet(parse_keys(raw_keys))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise TokenDecryptError(
                "stored token matches none of BILLING_SECRET_KEY's keys"
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the current first key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise TokenDecryptError(
                "stored token matches none of BILLING_SECRET_KEY's keys"
            ) from None


def fingerprint(refresh_token: str) -> bytes:
    """SHA-256 of a refresh token: finds the connection a token belongs to, reveals nothing
    (the token is a long random secret, so there is nothing to guess)."""
    return hashlib.sha256(refresh_token.encode()).digest()


class BadState(Exception):
    """The Connect `state` was not issued by this service, was altered, or has expired."""


def _state_keys(raw_keys: str) -> list[bytes]:
    # A key of its own for signing, derived from each encryption key (rotation applies too).
    return [
        hmac.new(key.encode(), b"fleet-billing connect state", hashlib.sha256).digest()
        for key in (part.strip() for part in raw_keys.split(",") if part.strip())
    ]


def sign_state(raw_keys: str, payload: dict[str, str | int]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).rstrip(b"=")
    mac = hmac.new(_state_keys(raw_keys)[0], body, hashlib.sha256).digest()
    return f"{body.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def verify_state(raw_keys: str, state: str, now: int) -> dict[str, str | int]:
    """The signed payload, if the signature holds and `exp` (epoch seconds) is after `now`.

    A payload that is not an object of strings with an integer `exp` is refused like a bad
    signature, even when signed (only this service signs, but a key may sign other things).
    """
    body, _, mac = state.partition(".")
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
    except (ValueError, binascii.Error):
        raise BadState("the state is malformed") from None
    if not any(
        hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).digest(), given)
        for key in _state_keys(raw_keys)
    ):
        raise BadState("the state was not issued by this service")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise BadState("the state is malformed") from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("exp"), int)
        or isinstance(payload.get("exp"), bool)
        or not all(isinstance(payload.get(name), str) for name in ("employee_id", "nonce"))
        or not all(isinstance(value, str | int) for value in payload.values())
    ):
        raise BadState("the state is malformed")
    if payload["exp"] < now:
        raise BadState("the state has expired; start connecting again")
    return payload
