"""Encryption at rest for refresh tokens and service secrets (Fernet, with key rotation)."""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class DecryptionError(Exception):
    """A stored secret cannot be read with any configured key."""


def derived_key(secret_key):
    """A Fernet key derived from SECRET_KEY, for development when no key is configured."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"bastion-token-encryption", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def init_app(app):
    """Build the cipher: the configured keys (first one encrypts), else one derived from SECRET_KEY."""
    keys = app.config.get("TOKEN_ENCRYPTION_KEYS") or [derived_key(app.config["SECRET_KEY"])]
    try:
        app.extensions["cipher"] = MultiFernet([Fernet(k.strip() if isinstance(k, str) else k) for k in keys])
    except ValueError:
        raise RuntimeError(
            "TOKEN_ENCRYPTION_KEYS holds a malformed key; make one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None


def encrypt(plaintext):
    """Encrypt text for storage."""
    return current_app.extensions["cipher"].encrypt(plaintext.encode()).decode()


def decrypt(ciphertext):
    """Decrypt stored text; DecryptionError when no configured key opens it."""
    try:
        return current_app.extensions["cipher"].decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from None
