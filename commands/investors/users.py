"""User commands: sign up, log in, erase personal data. Load → call the aggregate → save → answer.

Sign-up claims the email's keyed hash in `email_accounts` (a primary key, so a second sign-up with the same
email is refused even when both race) for a new random user id; the Registered event keeps that hash only
sealed with the investor's data key. Erasing revokes the account's tokens and drops the claim, so the
email may sign up again, as a new user. Login reads the user from the event store
(never from an eventually consistent projection) and costs one Argon2id verification whether or not
the email exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.domain.users import (
    InvestorCategory,
    User,
    UserStatus,
    parse_email,
    parse_password,
    parse_phone,
    parse_residency,
    user_id_for,
)
from bondflow.errors import EmailAlreadyRegistered, InvalidRequest, NotFound, Unauthenticated
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore, position_of
from bondflow.security.email_accounts import EmailAccounts
from bondflow.security.passwords import Passwords
from bondflow.security.pii import DataKeyDestroyed, Vault
from bondflow.security.principal import ROLE_SCOPES, Role
from bondflow.security.tokens import TokenService
from bondflow.security.verified_pans import VerifiedPans
from bondflow.workers.kyc import KycHandoff
from commands.investors.login_limits import LoginLimits
from commands.kernel.context import Accepted, CommandContext
from commands.trading.attributes import AttributeReader

SIGN_UP_FIELDS = {"email", "password", "phone", "residency", "investor_category"}
LOG_IN_FIELDS = {"email", "password"}


def only_fields(body: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise InvalidRequest(
            f"unknown fields: {', '.join(extra)}", {"fields": dict.fromkeys(extra, "not allowed")}
        )
    missing = sorted(required - set(body))
    if missing:
        raise InvalidRequest(
            f"missing fields: {', '.join(missing)}", {"fields": dict.fromkeys(missing, "required")}
        )


@dataclass(frozen=True, slots=True, repr=False)
class SignUp:
    email: str
    password: str
    phone: str | None
    residency: str
    investor_category: InvestorCategory

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> SignUp:
        only_fields(body, SIGN_UP_FIELDS, {"email", "password"})
        phone = body.get("phone")
        return cls(
            email=parse_email(body["email"]),
            password=parse_password(body["password"]),
            phone=None if phone is None else parse_phone(phone),
            residency=parse_residency(body.get("residency", "IN")),
            investor_category=InvestorCategory.parse(body.get("investor_category", "retail")),
        )

    def __repr__(self) -> str:  # personal data never reaches a log line through a repr
        return f"SignUp(residency={self.residency!r}, investor_category={self.investor_category.value!r})"


@dataclass(frozen=True, slots=True, repr=False)
class LogIn:
    email: str
    password: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> LogIn:
        only_fields(body, LOG_IN_FIELDS, LOG_IN_FIELDS)
        email, password = body["email"], body["password"]
        if not isinstance(email, str) or not isinstance(password, str):
            raise InvalidRequest(
                "email and password must be strings", {"fields": {"email": "string", "password": "string"}}
            )
        return cls(email=email, password=password)

    def __repr__(self) -> str:
        return "LogIn(…)"


class UserCommands:
    def __init__(
        self,
        store: EventStore,
        vault: Vault,
        passwords: Passwords,
        tokens: TokenService,
        attributes: AttributeReader,
        handoff: KycHandoff,
        limits: LoginLimits,
        clock: Clock,
        emails: EmailAccounts,
        pans: VerifiedPans,
    ) -> None:
        self.emails = emails
        self.pans = pans
        self.store = store
        self.vault = vault
        self.passwords = passwords
        self.tokens = tokens
        self.attributes = attributes
        self.handoff = handoff
        self.limits = limits
        self.clock = clock

    def sign_up(self, command: SignUp, *, client_ip: str, request_id: str) -> Accepted:
        self.limits.sign_up(client_ip)
        email_hash = self.vault.lookup_hash("email", command.email)
        user_id = uuid4()
        if self._account(email_hash) is not None or not self.emails.claim(email_hash, user_id):
            raise EmailAlreadyRegistered("this email is already registered")
        try:
            return self._register(command, email_hash, user_id, request_id)
        except BaseException:
            self.emails.release(user_id)
            raise

    def _register(self, command: SignUp, email_hash: str, user_id: UUID, request_id: str) -> Accepted:
        self.vault.ensure_data_key(user_id)
        fields = {
            "email": command.email,
            "email_hash": email_hash,
            "password_hash": self.passwords.hash(command.password),
        }
        if command.phone is not None:
            fields["phone"] = command.phone
        sealed = self.vault.seal_many(user_id, fields)
        user = User(
            id=user_id,
            email_hash=sealed["email_hash"],  # unreadable once the data key is destroyed
            email_sealed=sealed["email"],
            phone_sealed=sealed.get("phone"),
            password_hash_sealed=sealed["password_hash"],
            residency=command.residency,
            investor_category=command.investor_category.value,
            registered_at=self.clock.now(),
            actor_id=str(user_id),
            request_id=request_id,
        )
        try:
            position = self.store.save_and_position(user)
        except IntegrityError:  # a concurrent sign-up with the same email won the race
            raise EmailAlreadyRegistered("this email is already registered") from None
        return Accepted({"user_id": str(user_id), "status": user.status.value}, position)

    def log_in(self, command: LogIn, *, client_ip: str) -> dict[str, Any]:
        try:
            email: str | None = parse_email(command.email)
        except InvalidRequest:
            email = None
        email_hash = self.vault.lookup_hash("email", email or command.email.strip().lower()[:254])
        self.limits.log_in(client_ip, email_hash)  # unknown emails are limited alike: no enumeration
        user = self._account(email_hash) if email is not None else None
        stored_hash = self._password_hash(user) if len(command.password) <= 1024 else None
        if not self.passwords.verify(stored_hash, command.password[:1024]) or user is None:
            raise Unauthenticated("wrong email or password")
        claims = self.attributes.of_user(user).as_claims()
        return {
            "access_token": self.tokens.mint(str(user.id), Role.INVESTOR, claims),
            "token_type": "Bearer",
            "expires_in": int(self.tokens.ttl.total_seconds()),
            "scope": " ".join(sorted(ROLE_SCOPES[Role.INVESTOR])),
        }

    def erase(self, ctx: CommandContext) -> Accepted:
        """Crypto-shredding: destroy the data key first (so a crash cannot leave data readable), then
        record the erasure. Orders, trades, balances and the log are untouched."""
        user = self.own_user(ctx.actor_id)
        if self.tokens.revocations is not None:  # every token issued so far is refused from now on
            self.tokens.revocations.revoke(str(user.id), self.clock.now())
        self.vault.destroy_data_key(user.id)
        self.emails.release(user.id)
        self.pans.release(user.id)
        self.handoff.forget_user(user.id)
        if user.erase_personal_data(actor_id=ctx.actor_id, request_id=ctx.request_id):
            position = self.store.save_and_position(user)
        else:
            position = position_of(self.store, user.id, user.version) or 0
        return Accepted({"user_id": str(user.id), "status": "erased"}, position)

    def evidence_category(
        self, user_id: UUID, category: InvestorCategory, reason: str, ctx: CommandContext
    ) -> Accepted:
        """An admin's approval of an investor category (never their own: separation of duties)."""
        user = self._user(user_id)
        if user is None or user.erased:
            raise NotFound("no such user", {})
        changed = user.evidence_category(
            category=category.value,
            source="admin",
            reference=reason,
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
        )
        position = (
            self.store.save_and_position(user)
            if changed
            else position_of(self.store, user.id, user.version) or 0
        )
        return Accepted({"user_id": str(user.id), "investor_category": user.effective_category}, position)

    def own_user(self, subject: str) -> User:
        try:
            user_id = UUID(subject)
        except ValueError:
            raise NotFound("no user account for this token", {}) from None
        user = self._user(user_id)
        if user is None:
            raise NotFound("no user account for this token", {})
        return user

    def _account(self, email_hash: str) -> User | None:
        """The live account the email belongs to: its claim, else an account from before claims existed
        (id derived from the hash) unless that one was erased."""
        owner = self.emails.owner(email_hash)
        if owner is not None:
            return self._user(owner)
        legacy = self._user(user_id_for(email_hash))
        return legacy if legacy is not None and not legacy.erased else None

    def _user(self, user_id: UUID) -> User | None:
        try:
            user: object = self.store.repository.get(user_id)
        except AggregateNotFoundError:
            return None
        return user if isinstance(user, User) else None

    def _password_hash(self, user: User | None) -> str | None:
        if user is None or user.password_hash_sealed is None or user.status is UserStatus.SUSPENDED:
            return None
        try:
            return self.vault.open(user.id, "password_hash", user.password_hash_sealed)
        except DataKeyDestroyed:
            return None
