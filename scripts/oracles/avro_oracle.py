#!/usr/bin/env python3
"""Independent Avro oracle: fastavro answers the questions our TypeScript codec
must get right, so the tests never check the codec against itself.

Input: one JSON command, or a JSON array of commands, as argv[1] or on stdin.
Output: one JSON line with the result (or the array of results).

Commands:
  {"op": "fingerprint", "schema": <schema JSON>}
      -> {"pcf": str, "fingerprint": hex of the 8 little-endian bytes}
  {"op": "decode", "schema": <writer schema>, "bytes": hex}
      Checks the single-object header (C3 01 + fingerprint of `schema`) and
      reads the body. Unions of records come back as
      {"-type": fullname, ...fields}; timestamp-millis as ISO-8601 with
      milliseconds and "Z" (what `Date.prototype.toISOString` prints).
      -> {"value": ...}
  {"op": "encode", "schema": <writer schema>, "record": value}
      The record uses fastavro's own input conventions: {"-type": fullname}
      picks a union branch, timestamp-millis may be an int of milliseconds.
      -> {"bytes": hex of the single-object encoding}

An error is reported as {"error": message} for that command, never a crash,
so one bad case does not hide the others.
"""

import datetime
import io
import json
import sys
import uuid

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_LEN = 10


def crc64(schema):
    parsed = parse_schema(schema)
    pcf = to_parsing_canonical_form(parsed)
    return parsed, pcf, fingerprint(pcf, "CRC-64-AVRO")


def to_json(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        # return_record_name=True: (fullname, record) for a union branch.
        return {"-type": value[0], **{k: to_json(v) for k, v in value[1].items()}}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def run(cmd):
    op = cmd.get("op")
    if op == "fingerprint":
        _, pcf, fp = crc64(cmd["schema"])
        return {"pcf": pcf, "fingerprint": fp}
    if op == "decode":
        parsed, _, fp = crc64(cmd["schema"])
        data = bytes.fromhex(cmd["bytes"])
        if data[:2] != MAGIC:
            return {"error": "bad magic %s" % data[:2].hex()}
        if data[2:HEADER_LEN].hex() != fp:
            return {"error": "fingerprint %s is not the schema's %s" % (data[2:HEADER_LEN].hex(), fp)}
        body = io.BytesIO(data[HEADER_LEN:])
        value = schemaless_reader(body, parsed, return_record_name=True)
        rest = len(data) - HEADER_LEN - body.tell()
        if rest:
            return {"error": "%d trailing bytes" % rest}
        return {"value": to_json(value)}
    if op == "encode":
        parsed, _, fp = crc64(cmd["schema"])
        out = io.BytesIO()
        out.write(MAGIC)
        out.write(bytes.fromhex(fp))
        schemaless_writer(out, parsed, cmd["record"])
        return {"bytes": out.getvalue().hex()}
    return {"error": "unknown op %r" % (op,)}


def safe_run(cmd):
    try:
        return run(cmd)
    except Exception as err:  # noqa: BLE001 - reported to the caller, per command
        return {"error": "%s: %s" % (type(err).__name__, err)}


def main():
    text = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    request = json.loads(text)
    if isinstance(request, list):
        result = [safe_run(c) for c in request]
    else:
        result = safe_run(request)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
