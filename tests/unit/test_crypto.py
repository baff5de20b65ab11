from __future__ import annotations

import pytest

from billing.crypto import TokenCipher, TokenDecryptError, new_key


def test_roundtrip_and_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher(new_key())
    sealed = cipher.encrypt("access-token-value")
    assert b"access-token-value" not in sealed
    assert cipher.decrypt(sealed) == "access-token-value"


def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    old, new = new_key(), new_key()
    sealed_with_old = TokenCipher(old).encrypt("t")
    rotated = TokenCipher(f"{new},{old}")
    assert rotated.decrypt(sealed_with_old) == "t"
    resealed = rotated.rotate(sealed_with_old)
    assert TokenCipher(new).decrypt(resealed) == "t"


def test_unknown_key_is_a_clear_error() -> None:
    sealed = TokenCipher(new_key()).encrypt("t")
    with pytest.raises(TokenDecryptError, match="BILLING_SECRET_KEY"):
        TokenCipher(new_key()).decrypt(sealed)
