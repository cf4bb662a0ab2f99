"""People's passwords: a length policy, and argon2id hashes.

Passwords are guessable, unlike our random tokens, so they get a memory-hard hash (argon2id with
argon2-cffi's RFC 9106 low-memory profile: 64 MiB, 3 passes): each guess against a stolen table costs
that much. Hashing takes tens of milliseconds of CPU, so it runs in a thread, off the event loop.
"""

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
# Bounds the work one request can ask for.
MAX_LENGTH = 1024

_hasher = PasswordHasher()


def policy_problem(password: str, email: str) -> str | None:
    """What makes `password` unacceptable for the account of `email`; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password.strip().lower() == email:
        return "must not be your email address"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("no account has this password")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. With no hash (no account has the email) a dummy one
    is checked all the same, so an unknown email takes as long to refuse as a wrong password and
    timing does not tell which addresses have accounts."""
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None
