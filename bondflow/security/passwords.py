"""Password hashing with Argon2id, and a verify that costs the same whether or not the account exists.

The default cost is OWASP's first recommended Argon2id configuration (Password Storage Cheat Sheet:
19 MiB of memory, 2 iterations, 1 lane), about 30 ms a verification on this class of machine, so a login
stays well inside the API's latency budget; the cheat sheet lists it as equal in strength to its
higher-memory options. `BONDFLOW_PASSWORD_HASH_MEMORY_KIB` and `…_TIME_COST` raise it. A hash records the
parameters it was made with, so hashes made under other settings still verify.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MEMORY_KIB = 19_456
TIME_COST = 2


class Passwords:
    def __init__(self, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID)
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
