"""Tax command routes: `POST /v1/tax/declarations` files a Form 15G/15H for a financial year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from bondflow.api.deps import ContainerDep, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse
from bondflow.security.principal import Principal
from commands.kernel.context import CommandContext
from commands.tax.handlers import FileDeclaration, TaxCommands
from commands.trading.routes import _answer as answer

router = APIRouter(prefix="/v1/tax", tags=["tax"])

TaxWriter = Annotated[Principal, Depends(require_scope("kyc:write"))]

DECLARATION_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["form", "financial_year"],
                    "properties": {
                        "form": {"type": "string", "enum": ["15G", "15H"]},
                        "financial_year": {
                            "type": "string",
                            "pattern": "^[0-9]{4}-[0-9]{2}$",
                            "example": "2026-27",
                            "description": "the current or the next Indian financial year",
                        },
                    },
                }
            }
        },
    }
}


@router.post("/declarations", status_code=202, openapi_extra=DECLARATION_SCHEMA)
def file_declaration(
    principal: TaxWriter, body: JsonBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    commands = TaxCommands(container.store, container.clock, container.corporate_actions.profiles)
    ctx = CommandContext(principal, request_id)
    return answer(commands.file_declaration(FileDeclaration.from_body(body), ctx), request_id)
