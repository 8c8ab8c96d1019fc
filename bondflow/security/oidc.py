"""External OIDC access tokens: issuer and audience checked, signing keys from the issuer's JWKS.

The JWKS is found through the issuer's discovery document, fetched with httpx (or an injected fetch
function), and cached; an unknown `kid` triggers at most one refetch per `min_refetch_seconds`, so a
flood of forged tokens cannot hammer the issuer. The role comes from the `role` claim (investor when
absent); scopes are the `scope` claim intersected with what the role grants.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from bondflow.errors import Unauthenticated
from bondflow.runtime.clock import Clock
from bondflow.security.principal import ROLE_SCOPES, Principal, Role

FetchJson = Callable[[str], dict[str, Any]]
ALGORITHMS = ["RS256", "ES256", "PS256"]


def fetch_json(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return data


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        clock: Clock,
        fetch: FetchJson = fetch_json,
        *,
        cache_seconds: float = 600,
        min_refetch_seconds: float = 30,
        leeway_seconds: int = 30,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.clock = clock
        self.fetch = fetch
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.leeway_seconds = leeway_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            kid = str(header.get("kid", ""))
            if header.get("alg") not in ALGORITHMS:
                raise Unauthenticated("token algorithm is not accepted")
            key = self._key(kid)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp", "iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            now = self.clock.now().timestamp()
            if float(claims["exp"]) <= now - self.leeway_seconds:
                raise Unauthenticated("token has expired")
            if float(claims.get("nbf", 0)) > now + self.leeway_seconds:
                raise Unauthenticated("token is not valid yet")
            role = Role(claims.get("role", Role.INVESTOR.value))
        except Unauthenticated:
            raise
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise Unauthenticated("invalid bearer token") from exc
        granted = ROLE_SCOPES[role]
        scope_claim = claims.get("scope")
        scopes = granted if scope_claim is None else frozenset(str(scope_claim).split()) & granted
        attributes: dict[str, str] = {
            name: str(claims[name])
            for name in ("residency", "investor_category", "kyc_tier", "kyc_status")
            if name in claims
        }
        return Principal(str(claims["sub"]), role, scopes, attributes)

    def _key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self.clock.now().timestamp()
            stale = self._fetched_at is None or now - self._fetched_at > self.cache_seconds
            unknown = kid not in self._keys
            may_refetch = self._fetched_at is None or now - self._fetched_at >= self.min_refetch_seconds
            if stale or (unknown and may_refetch):
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("token was signed by an unknown key")
        return key

    def _refresh(self, now: float) -> None:
        try:
            discovery = self.fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            jwks = self.fetch(str(discovery["jwks_uri"]))
            keys: dict[str, jwt.PyJWK] = {}
            for entry in jwks.get("keys", []):
                if isinstance(entry, dict) and entry.get("use", "sig") == "sig" and "kid" in entry:
                    try:
                        keys[str(entry["kid"])] = jwt.PyJWK(entry)
                    except jwt.PyJWTError:
                        continue  # a key type we do not use
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            if not self._keys:
                raise Unauthenticated("the token issuer's keys are unavailable") from exc
            return  # keep serving the cached keys while the issuer is unreachable
        self._keys = keys
        self._fetched_at = now
