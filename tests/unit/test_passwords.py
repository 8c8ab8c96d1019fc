"""Passwords: Argon2id at OWASP's recommended cost, verifiable whatever cost a stored hash was made with."""

from __future__ import annotations

from argon2 import PasswordHasher, Type, extract_parameters

from bondflow.security.passwords import Passwords


def test_new_hashes_are_argon2id_with_owasps_parameters() -> None:
    stored = Passwords().hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    parameters = extract_parameters(stored)
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19_456, 2, 1)


def test_a_hash_made_at_another_cost_still_verifies() -> None:
    older = PasswordHasher(type=Type.ID).hash("correct horse battery staple")  # the library's defaults
    passwords = Passwords()
    assert passwords.verify(older, "correct horse battery staple")
    assert not passwords.verify(older, "wrong horse")


def test_a_missing_account_never_verifies() -> None:
    assert not Passwords().verify(None, "bondflow-dummy-password-for-constant-time")


def test_the_cost_can_be_raised() -> None:
    stored = Passwords(memory_kib=65_536, time_cost=3).hash("x")
    assert extract_parameters(stored).memory_cost == 65_536
