"""Standard Webhooks signing (https://www.standardwebhooks.com): secrets, signatures, headers.

A secret is `whsec_` and the base64 of random bytes; the signature of a message is
`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed with those bytes.
`webhook-signature` may list several signatures separated by spaces, which is how a rotated
endpoint keeps verifying with either secret for a while.

Secrets are kept encrypted (Fernet) in the database: we need them to sign, so they cannot be
hashed like API keys, and a copy of the database alone must not let anyone forge our webhooks.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the message."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(message_id: str, timestamp: int, body: bytes, signing_secrets: Sequence[str]) -> dict[str, str]:
    """The three headers of a Standard Webhooks request, signed with every given secret."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, message_id, timestamp, body) for secret in signing_secrets
        ),
    }


class SecretCipher:
    """Encrypts endpoints' signing secrets for the database, and decrypts them to sign."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()
