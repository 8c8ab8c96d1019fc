"""Forwarded headers are believed only from configured proxies (BONDFLOW_TRUSTED_PROXIES)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bondflow.api.client_ip import forwarded_client
from bondflow.settings import Settings

PROXIES = Settings(trusted_proxies="10.0.0.0/8, 192.0.2.1").trusted_proxy_networks


def test_no_trusted_proxies_by_default() -> None:
    assert Settings(_env_file=None).trusted_proxy_networks == ()  # type: ignore[call-arg]


def test_a_header_from_an_untrusted_peer_is_ignored() -> None:
    assert forwarded_client("127.0.0.1", ["6.6.6.6"], ()) == "127.0.0.1"
    assert forwarded_client("198.51.100.9", ["6.6.6.6"], PROXIES) == "198.51.100.9"


def test_behind_trusted_proxies_the_client_is_the_right_most_untrusted_hop() -> None:
    # the client sent a made-up "6.6.6.6"; the edge proxy appended the real peer, an inner proxy its own
    assert forwarded_client("10.1.2.3", ["6.6.6.6", "203.0.113.5", "10.9.9.9"], PROXIES) == "203.0.113.5"
    assert forwarded_client("192.0.2.1", ["2001:db8::7"], PROXIES) == "2001:db8::7"


def test_a_garbled_hop_stops_the_walk_at_the_proxy_that_passed_it_on() -> None:
    assert forwarded_client("10.1.2.3", ["203.0.113.5", "not-an-ip", "10.9.9.9"], PROXIES) == "10.9.9.9"
    assert forwarded_client("10.1.2.3", [], PROXIES) == "10.1.2.3"


def test_a_bad_proxy_entry_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="BONDFLOW_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8,proxy.example")
