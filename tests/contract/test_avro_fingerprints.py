"""Schema fingerprints as the Avro specification defines them, checked against the spec's own reference
CRC-64-AVRO (written out here, not taken from fastavro) and its single-object framing."""

from __future__ import annotations

import fastavro

from bondflow.audit.records import record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import MAGIC, encode
from tests.contract.test_avro_contracts import sample_events

EMPTY = 0xC15D213AA4D7A795  # the spec's CRC-64-AVRO initial value and polynomial
MASK = 2**64 - 1


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1) & MASK)
        table.append(fp)
    return table


FP_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """`long fingerprint64(byte[] buf)` from the specification ("Schema Fingerprints"), as an unsigned int."""
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


def test_the_reference_implementation_matches_the_spec_example() -> None:
    assert crc64_avro(b'"null"') == 7195948357588979594  # the value the specification quotes


def test_every_contract_fingerprint_is_the_spec_fingerprint_little_endian() -> None:
    for topic, contract in current_contracts().items():
        canonical = fastavro.schema.to_parsing_canonical_form(contract.parsed).encode()
        expected = crc64_avro(canonical).to_bytes(8, "little")
        assert contract.fingerprint == expected, f"{topic}: {contract.fingerprint.hex()} != {expected.hex()}"


def test_the_single_object_header_carries_that_fingerprint() -> None:
    contracts = current_contracts()
    for event in sample_events():
        record = record_of(event)
        frame = encode(record, contracts[record["topic"]])
        canonical = fastavro.schema.to_parsing_canonical_form(contracts[record["topic"]].parsed).encode()
        assert frame[:2] == MAGIC
        assert int.from_bytes(frame[2:10], "little") == crc64_avro(canonical)
