"""Random bearer secrets (API keys, session cookies, invitation tokens), stored only as SHA-256 hashes.

A secret with 256 bits of randomness cannot be guessed, so a fast hash is enough (a slow password hash
protects guessable secrets, which these are not) and lets every request be checked with one indexed
lookup; a stolen table of hashes gives nothing that can be presented.
"""

import hashlib
import secrets


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
