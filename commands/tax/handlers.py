"""Tax commands: an investor files a Form 15G/15H declaration for a financial year (the current one or the
next). One per investor and year (the aggregate id is derived from both): the same form again answers the
original filing (409, `Idempotent-Replayed`), another form for a year on record is `409 BF-TAX-001`.
Only resident individuals (retail, HNI) may file; a declaration counts only with a PAN on record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.domain.tax_declarations import (
    DeclarationForm,
    TaxDeclaration,
    declaration_id,
    parse_financial_year,
)
from bondflow.domain.tds import financial_year, financial_year_label
from bondflow.errors import DeclarationOnRecord, InvalidRequest, KycNotEligible
from bondflow.runtime.clock import Clock, business_date
from bondflow.runtime.eventstore import EventStore, position_of
from commands.corporate_actions.tax_profiles import TaxProfiles
from commands.kernel.context import Accepted, CommandContext


@dataclass(frozen=True, slots=True)
class FileDeclaration:
    form: DeclarationForm
    financial_year: int

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> FileDeclaration:
        extra = sorted(set(body) - {"form", "financial_year"})
        if extra:
            raise InvalidRequest(
                f"unknown fields: {', '.join(extra)}", {"fields": dict.fromkeys(extra, "not allowed")}
            )
        return cls(DeclarationForm.parse(body.get("form")), parse_financial_year(body.get("financial_year")))


class TaxCommands:
    def __init__(self, store: EventStore, clock: Clock, profiles: TaxProfiles) -> None:
        self.store = store
        self.clock = clock
        self.profiles = profiles

    def file_declaration(self, command: FileDeclaration, ctx: CommandContext) -> Accepted:
        user_id = ctx.actor_id
        current = financial_year(business_date(self.clock))
        if command.financial_year not in (current, current + 1):
            raise InvalidRequest(
                "financial_year: only the current or the next financial year",
                {
                    "fields": {
                        "financial_year": f"{financial_year_label(current)} or {financial_year_label(current + 1)}"
                    }
                },
            )
        profile = self.profiles.profile(user_id, command.financial_year)
        if profile.residency != "IN" or profile.investor_category not in {"retail", "hni"}:
            raise KycNotEligible("Form 15G/15H is for resident individuals", {"rule": "15g_15h_residents"})
        declaration = TaxDeclaration(
            id=declaration_id(user_id, command.financial_year),
            user_id=user_id,
            form=command.form.value,
            financial_year=command.financial_year,
            filed_at=self.clock.now(),
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
        )
        data = {
            "declaration_id": str(declaration.id),
            "form": command.form.value,
            "financial_year": financial_year_label(command.financial_year),
            "effective": profile.has_pan,  # without a PAN on record the declaration is not valid
        }
        try:
            position = self.store.save_and_position(declaration)
        except IntegrityError:
            return self._on_record(declaration.id, command, data)
        return Accepted(data, position)

    def _on_record(self, aggregate_id: Any, command: FileDeclaration, data: dict[str, Any]) -> Accepted:
        try:
            existing: TaxDeclaration = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:  # pragma: no cover - the id just collided
            raise DeclarationOnRecord("a declaration for this financial year is on record", {}) from None
        if existing.form != command.form.value:
            raise DeclarationOnRecord(
                "a declaration for this financial year is on record",
                {"form": existing.form, "financial_year": financial_year_label(existing.financial_year)},
            )
        position = position_of(self.store, aggregate_id, 1) or self.store.head_position()
        return Accepted(data, position, replayed=True)
