"""Token issuance and retirement on the chain, as facts in the log: one `TokenMovement` aggregate per mint
or burn, its id derived from the chain idempotency key, so recording the same mint or burn twice collides
on the aggregate id. Supply per ISIN = Σ minted − Σ burned, and must equal the chain's own count.

- `Minted`: listing an instrument issues its units to the issuer's (arranger's) wallet;
- `Burned`: a redemption retires the units of every wallet that held them.

Event class paths (`bondflow.domain.tokens:TokenMovement.Minted`, …) are stored data: never move them.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from bondflow.domain.ids import derived_id

MINT = "mint"
BURN = "burn"


def token_movement_id(kind: str, idempotency_key: str) -> UUID:
    return derived_id("token_movement", kind, idempotency_key)


def issuer_wallet(issuer: str) -> str:
    return f"issuer:{issuer}"


def listing_mint_key(isin: str) -> str:
    return f"mint:listing:{isin}"


class TokenMovement(Aggregate):
    class Minted(Aggregate.Created):
        isin: str
        wallet: str
        qty: Decimal
        tx_hash: str
        idempotency_key: str
        reason: str
        actor_id: str
        request_id: str

    class Burned(Aggregate.Created):
        isin: str
        wallet: str
        qty: Decimal
        tx_hash: str
        idempotency_key: str
        reason: str
        actor_id: str
        request_id: str

    def __init__(
        self,
        *,
        isin: str,
        wallet: str,
        qty: Decimal,
        tx_hash: str,
        idempotency_key: str,
        reason: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.isin = isin
        self.wallet = wallet
        self.qty = qty
        self.tx_hash = tx_hash
        self.idempotency_key = idempotency_key
        self.reason = reason

    @classmethod
    def record(
        cls,
        kind: str,
        *,
        isin: str,
        wallet: str,
        qty: Decimal,
        tx_hash: str,
        idempotency_key: str,
        reason: str,
        actor_id: str,
        request_id: str,
    ) -> TokenMovement:
        return cls._create(
            cls.Minted if kind == MINT else cls.Burned,
            id=token_movement_id(kind, idempotency_key),
            isin=isin,
            wallet=wallet,
            qty=qty,
            tx_hash=tx_hash,
            idempotency_key=idempotency_key,
            reason=reason,
            actor_id=actor_id,
            request_id=request_id,
        )
