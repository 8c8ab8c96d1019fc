"""Bearer tokens: minted with the local key, verified locally or against an external OIDC issuer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from bondflow.errors import Unauthenticated
from bondflow.runtime.clock import Clock
from bondflow.security.keys import SigningKey
from bondflow.security.oidc import OidcVerifier
from bondflow.security.principal import ROLE_SCOPES, Principal, Role
from bondflow.security.revocations import Revocations

ISSUER = "bondflow"
AUDIENCE = "bondflow-api"


@dataclass(frozen=True)
class TokenService:
    key: SigningKey
    clock: Clock
    ttl: timedelta
    oidc: OidcVerifier | None = None  # external issuer, when BONDFLOW_OIDC_ISSUER/AUDIENCE are set
    revocations: Revocations | None = None  # subjects whose tokens were revoked (an erased account)

    def mint(self, subject: str, role: Role, attributes: dict[str, str] | None = None) -> str:
        now = self.clock.now()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "role": role.value,
            "scope": " ".join(sorted(ROLE_SCOPES[role])),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "attrs": attributes or {},
        }
        return jwt.encode(
            claims, self.key.private_key, algorithm=self.key.algorithm, headers={"kid": self.key.kid}
        )

    def verify(self, token: str) -> Principal:
        if self.oidc is not None and _unverified_issuer(token) == self.oidc.issuer:
            principal = self.oidc.verify(token)  # signature, issuer, audience and expiry checked first
            if self.revocations is not None and self.revocations.is_revoked(
                principal.subject, _issued_at(token)
            ):
                raise Unauthenticated("token has been revoked")
            return principal
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.key.kid or header.get("alg") != self.key.algorithm:
                raise Unauthenticated("token was not signed by this service's key")
            claims = jwt.decode(
                token,
                self.key.public_key,
                algorithms=[self.key.algorithm],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            now = self.clock.now().timestamp()
            if float(claims["exp"]) <= now:
                raise Unauthenticated("token has expired")
            if float(claims.get("nbf", 0)) > now + 30:
                raise Unauthenticated("token is not valid yet")
            role = Role(claims.get("role", ""))
            if self.revocations is not None and self.revocations.is_revoked(
                str(claims["sub"]), int(claims["iat"])
            ):
                raise Unauthenticated("token has been revoked")
        except Unauthenticated:
            raise
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise Unauthenticated("invalid bearer token") from exc
        granted = ROLE_SCOPES[role]
        scopes = frozenset(str(claims.get("scope", "")).split()) & granted
        raw_attributes = claims.get("attrs")
        attributes: dict[str, object] = raw_attributes if isinstance(raw_attributes, dict) else {}
        return Principal(str(claims["sub"]), role, scopes, {str(k): str(v) for k, v in attributes.items()})


def _issued_at(token: str) -> int:
    """A verified token's `iat` (optional in OIDC: a token without one counts as issued at the epoch, so a
    revocation of its subject refuses it)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    issued = claims.get("iat", 0)
    return int(issued) if isinstance(issued, int | float) else 0


def _unverified_issuer(token: str) -> str | None:
    """Only to choose the verifier; the chosen one then checks the signature, issuer and audience."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None
