"""Password hashing with Argon2id, and a verify that costs the same whether or not the account exists."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher(type=Type.ID)
        # Verified against when there is no real hash, so a missing account takes as long as a wrong password.
        self._dummy_hash = self.hasher.hash("bondflow-dummy-password-for-constant-time")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Always runs one Argon2id verification; `stored_hash=None` means "no such account"."""
        try:
            matched = self.hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and stored_hash is not None
