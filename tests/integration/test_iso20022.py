"""ISO 20022 feeds from the log over HTTP: sese.023/sese.025 per settlement, semt.002 per investor,
seev.036 per coupon payment, camt.053 per day. Every document is checked against the message structure
(namespace, required elements in order, ISIN, INR amounts to the paisa, ISO dates) and, where the
published XSDs are on the machine (`BONDFLOW_ISO20022_XSD_DIR`, see schemas/iso20022/SOURCES.md), against
the XSD itself."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.clock import ManualClock
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from projections.iso20022.messages import NS
from tests.conftest import bearer, fund
from tests.integration.test_corporate_action_api import stop_settlement
from tests.support.corporate_actions import investor, list_bond, settle_trade, valid_isin

etree = pytest.importorskip("lxml.etree", reason="lxml is a dev dependency: pip install -e '.[dev]'")

XSD_FILES = {
    "sese.023": "sese.023.002.11.xsd",
    "sese.025": "sese.025.001.13.xsd",
    "semt.002": "semt.002.001.12.xsd",
    "seev.036": "seev.036.001.17.xsd",
    "camt.053": "camt.053.001.09.xsd",
}
# the elements each message must carry, in document order (paths below Document, '/'-separated)
REQUIRED = {
    "sese.023": [
        "SctiesSttlmTxInstr/TxId",
        "SctiesSttlmTxInstr/SttlmTpAndAddtlParams/SctiesMvmntTp",
        "SctiesSttlmTxInstr/SttlmTpAndAddtlParams/Pmt",
        "SctiesSttlmTxInstr/TradDtls/SttlmDt/Dt/Dt",
        "SctiesSttlmTxInstr/FinInstrmId/ISIN",
        "SctiesSttlmTxInstr/QtyAndAcctDtls/SttlmQty/Qty/FaceAmt",
        "SctiesSttlmTxInstr/SttlmParams/SctiesTxTp/Cd",
    ],
    "sese.025": [
        "SctiesSttlmTxConf/TxIdDtls/AcctOwnrTxId",
        "SctiesSttlmTxConf/TradDtls/FctvSttlmDt/Dt/Dt",
        "SctiesSttlmTxConf/FinInstrmId/ISIN",
        "SctiesSttlmTxConf/QtyAndAcctDtls/SttldQty/Qty/FaceAmt",
        "SctiesSttlmTxConf/SttlmParams/SctiesTxTp/Cd",
    ],
    "semt.002": [
        "SctiesBalCtdyRpt/Pgntn/PgNb",
        "SctiesBalCtdyRpt/StmtGnlDtls/StmtDtTm/Dt",
        "SctiesBalCtdyRpt/StmtGnlDtls/Frqcy/Cd",
        "SctiesBalCtdyRpt/StmtGnlDtls/UpdTp/Cd",
        "SctiesBalCtdyRpt/StmtGnlDtls/StmtBsis/Cd",
        "SctiesBalCtdyRpt/BalForAcct/FinInstrmId/ISIN",
        "SctiesBalCtdyRpt/BalForAcct/AggtBal/Qty/Qty/Qty/FaceAmt",
    ],
    "seev.036": [
        "CorpActnMvmntConf/CorpActnGnlInf/CorpActnEvtId",
        "CorpActnMvmntConf/CorpActnGnlInf/EvtTp/Cd",
        "CorpActnMvmntConf/CorpActnGnlInf/FinInstrmId/ISIN",
        "CorpActnMvmntConf/AcctDtls/Bal/ConfdBal/Bal/QtyChc/Qty/FaceAmt",
        "CorpActnMvmntConf/CorpActnConfDtls/OptnNb/Nb",
        "CorpActnMvmntConf/CorpActnConfDtls/CshMvmntDtls/AmtDtls/PstngAmt",
        "CorpActnMvmntConf/CorpActnConfDtls/CshMvmntDtls/AmtDtls/WhldgTaxAmt",
        "CorpActnMvmntConf/CorpActnConfDtls/CshMvmntDtls/DtDtls/PstngDt/Dt",
    ],
    "camt.053": [
        "BkToCstmrStmt/GrpHdr/MsgId",
        "BkToCstmrStmt/GrpHdr/CreDtTm",
        "BkToCstmrStmt/Stmt/Id",
        "BkToCstmrStmt/Stmt/Acct/Id/Othr/Id",
        "BkToCstmrStmt/Stmt/Bal/Amt",
        "BkToCstmrStmt/Stmt/Ntry/Amt",
        "BkToCstmrStmt/Stmt/Ntry/CdtDbtInd",
    ],
}
ISIN = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
AMOUNT = re.compile(r"^[0-9]{1,13}\.[0-9]{2}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def check_structure(message: str, xml: bytes) -> None:
    root = etree.fromstring(xml)
    namespace = NS[message]
    assert root.tag == f"{{{namespace}}}Document", root.tag
    for path in REQUIRED[message]:
        xpath = "/n:Document/" + "/".join(f"n:{step}" for step in path.split("/"))
        found = root.xpath(xpath, namespaces={"n": namespace})
        assert found, f"{message}: missing {path}"
        assert all((node.text or "").strip() for node in found), f"{message}: empty {path}"
    for node in root.iter(f"{{{namespace}}}ISIN"):
        assert ISIN.match(node.text), node.text
    for node in root.iter():
        if node.get("Ccy") is not None:
            assert node.get("Ccy") == "INR" and AMOUNT.match(node.text), (node.tag, node.text)
        if node.tag.endswith("}Dt") and len(node) == 0:
            assert DATE.match(node.text), node.text


def check_against_xsd(message: str, xml: bytes) -> None:
    directory = os.environ.get("BONDFLOW_ISO20022_XSD_DIR")
    assert directory, (
        "published ISO 20022 XSDs are not on this machine: set BONDFLOW_ISO20022_XSD_DIR to a folder"
        " holding the files listed in schemas/iso20022/SOURCES.md (`make iso20022`)"
    )
    path = Path(directory) / XSD_FILES[message]
    assert path.exists(), f"{path} is missing (see schemas/iso20022/SOURCES.md)"
    schema = etree.XMLSchema(etree.parse(str(path)))
    document = etree.fromstring(xml)
    assert schema.validate(document), f"{message}: {[e.message for e in schema.error_log][:5]}"


@pytest.fixture
def feeds(client: TestClient, container: Container, clock: ManualClock) -> dict[str, list[dict[str, str]]]:
    """A deposit, a BUY and a SELL settled, and a month of coupons paid; then every feed over the period."""
    stop_settlement(container)
    isin = list_bond(
        container,
        isin=valid_isin("INE779A0701"),
        coupon_rate="12",
        coupon_frequency=12,
        issue_date="2026-11-10",
        maturity_date="2028-11-10",
        day_count="ACT/365F",
    )
    holder = investor(container)
    fund(container, holder, Decimal(500_000))
    settle_trade(container, clock, holder, isin, "BUY", Decimal(20))
    settle_trade(container, clock, holder, isin, "SELL", Decimal(5))
    for _ in range(40):
        container.corporate_actions.job.tick()
        clock.advance(timedelta(days=1))
    ops = bearer(container, Role.OPS)
    head = container.store.head_position()
    answers = {}
    for message in XSD_FILES:
        answer = client.get(
            f"/v1/reports/iso20022/{message}?from=2026-11-01&to=2027-01-31&min_position={head}", headers=ops
        )
        assert answer.status_code == 200, answer.text
        answers[message] = answer.json()["data"]["documents"]
    return answers


def test_every_feed_has_documents_of_the_right_structure(feeds: dict[str, list[dict[str, str]]]) -> None:
    counts = {message: len(documents) for message, documents in feeds.items()}
    assert counts["sese.023"] == counts["sese.025"] == 2  # both trades instructed and confirmed
    assert counts["seev.036"] >= 1 and counts["semt.002"] >= 1 and counts["camt.053"] >= 2
    for message, documents in feeds.items():
        for document in documents:
            check_structure(message, document["xml"].encode())
    coupon = feeds["seev.036"][0]["xml"]
    assert "<GrssAmt" in coupon and "<WhldgTaxAmt" in coupon


@pytest.mark.xsd
def test_every_document_validates_against_the_published_xsd(feeds: dict[str, list[dict[str, str]]]) -> None:
    for message, documents in feeds.items():
        for document in documents:
            check_against_xsd(message, document["xml"].encode())


def test_one_document_as_xml_and_bad_requests(client: TestClient, container: Container) -> None:
    ops = bearer(container, Role.OPS)
    base = "/v1/reports/iso20022/camt.053?from=2026-11-01&to=2026-11-30"
    assert client.get(f"{base}&format=xml", headers=ops).status_code == 400  # which document?
    assert client.get(f"{base}&format=xml&id=nope", headers=ops).status_code == 404
    assert (
        client.get("/v1/reports/iso20022/pacs.008?from=2026-11-01&to=2026-11-30", headers=ops).status_code
        == 400
    )
    assert (
        client.get("/v1/reports/iso20022/camt.053?from=2026-12-01&to=2026-11-30", headers=ops).status_code
        == 400
    )
    investor_token = bearer(container, Role.INVESTOR, "iso-investor")
    assert client.get(base, headers=investor_token).status_code == 403
