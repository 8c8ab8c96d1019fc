"""External OIDC tokens: keys discovered from a JWKS served over real HTTP on 127.0.0.1, cached; issuer,
audience, expiry and signature checked; scopes limited to what the role grants."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bondflow.errors import Unauthenticated
from bondflow.runtime.clock import ManualClock
from bondflow.security.keys import SigningKey
from bondflow.security.oidc import OidcVerifier
from bondflow.security.principal import Role
from bondflow.security.tokens import TokenService

AUDIENCE = "bondflow-api"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


class Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "issuer-key-1"
        self.hits: list[str] = []
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token(self, **overrides: Any) -> str:
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "ext-user-1",
            "exp": int((NOW + timedelta(minutes=5)).timestamp()),
            "iat": int(NOW.timestamp()),
            "scope": "orders:read kyc:read admin",
            **overrides,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                body: dict[str, Any] = {"issuer": state.url, "jwks_uri": f"{state.url}/jwks.json"}
            elif self.path == "/jwks.json":
                body = state.jwks()
            else:
                self.send_error(404)
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def tokens(issuer: Issuer, clock: ManualClock, tmp_path: Path) -> TokenService:
    verifier = OidcVerifier(issuer.url, AUDIENCE, clock)
    return TokenService(SigningKey.load_or_create(tmp_path), clock, timedelta(hours=1), verifier)


def test_an_external_token_is_verified_with_the_issuers_jwks_and_keeps_only_role_scopes(
    tokens: TokenService, issuer: Issuer
) -> None:
    principal = tokens.verify(issuer.token())
    assert (principal.subject, principal.role) == ("ext-user-1", Role.INVESTOR)
    assert principal.scopes == frozenset({"orders:read", "kyc:read"})  # "admin" is not an investor scope


def test_the_jwks_is_fetched_once_and_cached(
    tokens: TokenService, issuer: Issuer, clock: ManualClock
) -> None:
    for _ in range(3):
        tokens.verify(issuer.token())
    assert issuer.hits == ["/.well-known/openid-configuration", "/jwks.json"]
    clock.advance(timedelta(minutes=11))  # past the cache lifetime: fetched again
    tokens.verify(issuer.token(exp=int((NOW + timedelta(minutes=20)).timestamp())))
    assert len(issuer.hits) == 4


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"exp": int((NOW - timedelta(minutes=5)).timestamp())},
        {"role": "superuser"},
    ],
)
def test_wrong_audience_expired_or_unknown_role_is_refused(
    tokens: TokenService, issuer: Issuer, claims: dict[str, Any]
) -> None:
    with pytest.raises(Unauthenticated):
        tokens.verify(issuer.token(**claims))


def test_a_token_signed_by_another_key_is_refused(tokens: TokenService, issuer: Issuer) -> None:
    forged = jwt.encode(
        {
            "iss": issuer.url,
            "aud": AUDIENCE,
            "sub": "x",
            "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": issuer.kid},
    )
    with pytest.raises(Unauthenticated):
        tokens.verify(forged)
    unknown_kid = jwt.encode(
        {"iss": issuer.url, "aud": AUDIENCE, "sub": "x"}, issuer.key, "RS256", {"kid": "k9"}
    )
    with pytest.raises(Unauthenticated):
        tokens.verify(unknown_kid)


def test_a_token_from_an_unconfigured_issuer_goes_to_the_local_verifier_and_fails(
    tokens: TokenService, issuer: Issuer
) -> None:
    other = issuer.token(iss="https://evil.example")
    with pytest.raises(Unauthenticated):
        tokens.verify(other)
    local = tokens.mint("u-1", Role.OPS)
    assert tokens.verify(local).role is Role.OPS  # local tokens still work beside OIDC


def test_an_external_token_of_a_revoked_subject_is_refused(
    issuer: Issuer, clock: ManualClock, tmp_path: Path, database_url: str
) -> None:
    """Revocation (an erased account) holds for tokens from the OIDC provider too, not only ours."""
    from bondflow.adapters.postgres import Database
    from bondflow.security.revocations import Revocations

    db = Database(database_url, pool_size=2)
    db.open()
    try:
        revocations = Revocations(db)
        revocations.setup()
        verifier = OidcVerifier(issuer.url, AUDIENCE, clock)
        tokens = TokenService(
            SigningKey.load_or_create(tmp_path), clock, timedelta(hours=1), verifier, revocations
        )
        before = issuer.token()
        without_iat = issuer.token(iat=None)
        assert tokens.verify(before).subject == "ext-user-1"
        revocations.revoke("ext-user-1", NOW)
        for refused in (before, without_iat):
            with pytest.raises(Unauthenticated, match="revoked"):
                tokens.verify(refused)
        later = issuer.token(iat=int((NOW + timedelta(seconds=5)).timestamp()))
        assert tokens.verify(later).subject == "ext-user-1"  # issued after the revocation: accepted
        assert tokens.verify(issuer.token(sub="ext-user-2")).subject == "ext-user-2"
    finally:
        db.close()
