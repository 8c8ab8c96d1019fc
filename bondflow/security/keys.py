"""The service signing key: generated on first start under DATA_DIR, published as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64(n: int, length: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(length, "big")).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    algorithm: str = "ES256"

    @classmethod
    def load_or_create(cls, directory: Path) -> SigningKey:
        path = directory / "keys" / "signing-key.pem"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            os.replace(tmp, path)  # atomic: two processes starting together end with one key
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{path} is not an EC private key")
        numbers = loaded.public_key().public_numbers()
        kid = hashlib.sha256(numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")).hexdigest()[:16]
        return cls(loaded, kid)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        return {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "x": _b64(numbers.x, 32),
                    "y": _b64(numbers.y, 32),
                    "kid": self.kid,
                    "alg": self.algorithm,
                    "use": "sig",
                }
            ]
        }

    def sign(self, message: bytes) -> tuple[str, bytes]:
        """ECDSA P-256 / SHA-256 signature (DER) of `message`, with the key id that made it."""
        return self.kid, self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True
