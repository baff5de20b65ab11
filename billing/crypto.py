"""Smartcar tokens encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256), rotation by key list."""

from __future__ import annotations

import base64
import binascii

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
        return self._fernet.rotate(ciphertext)
