"""schemathesis hooks for `make fuzz`, loaded by its CLI (in its own tool venv) through SCHEMATHESIS_HOOKS.

A request can match the schema and still be refused for a reason no JSON Schema can state: a `min_position`
beyond the head of the log (`400 BF-QRY-002`), a cursor this server never issued (signed, so a fuzzer
cannot forge one), an ISIN whose ISO 6166 check digit is wrong, an Idempotency-Key already used with
another body (`422 BF-IDEM-002`), and the few rules between two values or on the clock
(`from` after `to`, UPI's lower limit, the current financial year): `tools/fuzz_reasons.py` names them by
error code, field or message. Only those are taken out of the "schema-valid request rejected" check;
every other failure (5xx, a status, header or body the document does not list, a bad request accepted)
stays. Each one taken out is written to BONDFLOW_FUZZ_FORGIVEN
(JSON lines), so the run's report says what was forgiven and how often.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

from tools.fuzz_reasons import state_dependent


@schemathesis.hook  # type: ignore[untyped-decorator,unused-ignore]  # typed only where schemathesis is installed
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    if type(failure).__name__ != "RejectedPositiveData":
        return True
    try:
        body = json.loads(response.content)
    except (TypeError, ValueError):
        return True
    reason = state_dependent(body)
    if reason is None:
        return True
    target = os.environ.get("BONDFLOW_FUZZ_FORGIVEN")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"operation": case.operation.label, "reason": reason}) + "\n")
    return False
