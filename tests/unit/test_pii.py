"""Envelope encryption and keyed hashes, on real PostgreSQL (the data keys live in their own table)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bondflow.adapters.postgres import Database
from bondflow.security.pii import DataKeyDestroyed, Vault, open_optional

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=2)
    database.open()
    yield database
    database.close()


@pytest.fixture
def vault(db: Database) -> Vault:
    built = Vault(db, "unit-test-master-key-0123456789abcdef")
    built.setup()
    return built


def test_a_sealed_field_opens_only_for_its_investor_and_field(vault: Vault) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    vault.ensure_data_key(alice)
    vault.ensure_data_key(bob)
    sealed = vault.seal(alice, "email", "alice@example.in")
    assert sealed.startswith("v1.") and "alice" not in sealed
    assert sealed != vault.seal(alice, "email", "alice@example.in")  # a fresh nonce every time
    assert vault.open(alice, "email", sealed) == "alice@example.in"
    with pytest.raises(DataKeyDestroyed):
        vault.open(alice, "phone", sealed)  # bound to the field name
    with pytest.raises(DataKeyDestroyed):
        vault.open(bob, "email", sealed)  # and to the investor


def test_a_second_ensure_keeps_the_first_key(vault: Vault) -> None:
    user = uuid.uuid4()
    vault.ensure_data_key(user)
    sealed = vault.seal(user, "email", "x@example.in")
    vault.ensure_data_key(user)
    assert vault.open(user, "email", sealed) == "x@example.in"


def test_destroying_the_data_key_makes_every_sealed_copy_unreadable(vault: Vault, db: Database) -> None:
    user = uuid.uuid4()
    vault.ensure_data_key(user)
    sealed = vault.seal(user, "email", "gone@example.in")
    assert vault.destroy_data_key(user) is True
    assert vault.destroy_data_key(user) is False
    assert not vault.has_data_key(user)
    with pytest.raises(DataKeyDestroyed):
        vault.open(user, "email", sealed)
    assert open_optional(vault, user, {"email": sealed, "phone": None}) == {"email": None, "phone": None}
    with db.cursor() as cur:
        assert cur.execute(
            "SELECT wrapped_key FROM pii_data_keys WHERE user_id = %s", (user,)
        ).fetchone() == (None,)


def test_data_keys_are_wrapped_by_the_master_key(vault: Vault, db: Database) -> None:
    user = uuid.uuid4()
    vault.ensure_data_key(user)
    sealed = vault.seal(user, "email", "x@example.in")
    other_master = Vault(db, "a-different-master-key-0123456789abcdef")
    with pytest.raises(DataKeyDestroyed):
        other_master.open(user, "email", sealed)


def test_lookup_hashes_are_keyed_and_domain_separated(vault: Vault, db: Database) -> None:
    email_hash = vault.lookup_hash("email", "x@example.in")
    assert email_hash == vault.lookup_hash("email", "x@example.in")
    assert email_hash != vault.lookup_hash("pan", "x@example.in")
    assert email_hash != Vault(db, "another-master-key-0123456789abcdef").lookup_hash("email", "x@example.in")
