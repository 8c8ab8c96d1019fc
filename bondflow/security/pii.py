"""Personal data protection: per-investor data keys (envelope encryption) and keyed lookup hashes.

Each investor gets a random 256-bit data key; personal fields are sealed with it (AES-256-GCM, the field
name and user id as associated data) before they reach an event or a read model. The data key is stored
wrapped by a key-encryption key derived from `BONDFLOW_MASTER_KEY`, in its own table outside the log.
Destroying that row (crypto-shredding) makes every copy of the investor's personal data unreadable while
the events themselves stay intact. Lookups by email use HMAC-SHA256 under another derived key, so the log
holds no reversible email and no unkeyed hash a dictionary could invert.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bondflow.adapters.postgres import Database

SEALED_PREFIX = "v1."
NONCE_BYTES = 12

DDL = """
CREATE TABLE IF NOT EXISTS pii_data_keys (
    user_id uuid PRIMARY KEY,
    wrapped_key bytea,
    kek_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
)
"""


class DataKeyDestroyed(LookupError):
    """The investor's data key was destroyed (erasure) or never existed: their personal data is gone."""


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"bondflow-pii", info=purpose.encode()).derive(
        master
    )


class Vault:
    """Seals and opens personal fields with per-investor data keys kept in PostgreSQL."""

    def __init__(self, db: Database, master_key: str) -> None:
        master = master_key.encode()
        self.db = db
        self._kek = AESGCM(_derive(master, "bondflow/security/pii/kek/v1"))
        self.kek_id = hashlib.sha256(_derive(master, "bondflow/security/pii/kek-id/v1")).hexdigest()[:16]
        self._lookup_key = _derive(master, "bondflow/security/pii/lookup/v1")

    def setup(self) -> None:
        self.db.create_tables("pii_data_keys", DDL)

    # keyed hashes -------------------------------------------------------------------------------------

    def lookup_hash(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of a normalised value, domain-separated by `kind` ("email", "pan", …)."""
        message = f"{kind}\x1f{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    # data keys ----------------------------------------------------------------------------------------

    def ensure_data_key(self, user_id: UUID) -> None:
        """Create the investor's data key unless one exists (concurrent callers end with the same key)."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self._kek.encrypt(nonce, data_key, user_id.bytes)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO pii_data_keys (user_id, wrapped_key, kek_id) VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id) DO NOTHING",
                (user_id, wrapped, self.kek_id),
            )

    def destroy_data_key(self, user_id: UUID) -> bool:
        """Crypto-shredding: forget the wrapped key. Returns whether there was a key to destroy."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE pii_data_keys SET wrapped_key = NULL, destroyed_at = now()"
                " WHERE user_id = %s AND wrapped_key IS NOT NULL",
                (user_id,),
            )
            destroyed = cur.rowcount > 0
        # Old row versions keep the (wrapped) key until vacuumed: reclaim them now, best effort.
        with self.db.dedicated_connection() as conn:
            conn.execute("VACUUM pii_data_keys")
        return destroyed

    def has_data_key(self, user_id: UUID) -> bool:
        try:
            self._data_key(user_id)
        except DataKeyDestroyed:
            return False
        return True

    def _data_key(self, user_id: UUID) -> AESGCM:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT wrapped_key FROM pii_data_keys WHERE user_id = %s", (user_id,)
            ).fetchone()
        if row is None or row[0] is None:
            raise DataKeyDestroyed(f"no data key for user {user_id}")
        wrapped = bytes(row[0])
        try:
            key = self._kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], user_id.bytes)
        except InvalidTag as exc:  # a different master key: the data cannot be opened
            raise DataKeyDestroyed(f"data key for user {user_id} does not open with this master key") from exc
        return AESGCM(key)

    # fields -------------------------------------------------------------------------------------------

    def seal(self, user_id: UUID, field: str, value: str) -> str:
        return self.seal_many(user_id, {field: value})[field]

    def seal_many(self, user_id: UUID, fields: dict[str, str]) -> dict[str, str]:
        key = self._data_key(user_id)
        sealed: dict[str, str] = {}
        for field, value in fields.items():
            nonce = os.urandom(NONCE_BYTES)
            ciphertext = key.encrypt(nonce, value.encode(), _aad(user_id, field))
            sealed[field] = SEALED_PREFIX + base64.urlsafe_b64encode(nonce + ciphertext).decode()
        return sealed

    def open(self, user_id: UUID, field: str, sealed: str) -> str:
        return self.open_many(user_id, {field: sealed})[field]

    def open_many(self, user_id: UUID, fields: dict[str, str]) -> dict[str, str]:
        """Raises `DataKeyDestroyed` after erasure (or for data sealed for another investor)."""
        key = self._data_key(user_id)
        opened: dict[str, str] = {}
        for field, sealed in fields.items():
            if not sealed.startswith(SEALED_PREFIX):
                raise DataKeyDestroyed(f"{field} is not a sealed value")
            raw = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :])
            try:
                plain = key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(user_id, field))
            except InvalidTag as exc:
                raise DataKeyDestroyed(f"{field} does not open with the data key of {user_id}") from exc
            opened[field] = plain.decode()
        return opened


def _aad(user_id: UUID, field: str) -> bytes:
    return user_id.bytes + field.encode()


def open_optional(vault: Vault, user_id: UUID, fields: dict[str, Any]) -> dict[str, str | None]:
    """Open the sealed fields that are present; every field is `None` once the key is destroyed."""
    present = {k: v for k, v in fields.items() if isinstance(v, str)}
    try:
        opened = vault.open_many(user_id, present) if present else {}
    except DataKeyDestroyed:
        opened = {}
    return {k: opened.get(k) for k in fields}
