#!/usr/bin/env python3
"""Writes the seed inputs of each fuzz target into fuzz/corpus/<target>/ from the captures in
shared/formats/ (Python TaskFlow 5.0.0's own bytes) plus hand-made edge cases. Run from the
repository root: fuzz/seed_corpus.py [formats-dir]; then minimise with scripts/fuzz --merge."""
import hashlib
import json
import os
import re
import sys

FORMATS = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "formats")
OUT = os.path.join("fuzz", "corpus")


def read(name):
    with open(os.path.join(FORMATS, name), encoding="utf-8") as f:
        return f.read()


def put(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def json_blocks(text):
    """Every JSON object printed on its own indented lines (model-and-states.txt)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)\{\s*$", lines[i])
        if m:
            indent = m.group(1)
            for j in range(i + 1, len(lines)):
                if lines[j] == indent + "}":
                    try:
                        yield json.loads("\n".join(lines[i:j + 1]))
                    except ValueError:
                        pass
                    break
        i += 1


def sql_records(text):
    """(table, {column: value}) of the psql -x listings in sql-schema.txt."""
    table, record = None, None
    for line in text.split("\n"):
        m = re.match(r"^-- table (\w+)", line)
        if m:
            table = m.group(1)
            continue
        if line.startswith("-[ RECORD"):
            if record is not None:
                yield table, record
            record = {}
            continue
        m = re.match(r"^(\w+)\s*\|\s?(.*)$", line)
        if m and record is not None:
            record[m.group(1)] = m.group(2)
        elif record is not None and not line.strip():
            yield table, record
            record = None


def dumps(v):
    return json.dumps(v)


# Redis postings and datetimes (msgpack), as captured.
redis = read("redis-layout.txt")
for hexdata in re.findall(r"^\s*hex\s+([0-9a-f]+)\s*$", redis, re.M):
    if len(hexdata) > 4:
        put("fuzz_redis_posting", bytes.fromhex(hexdata))
put("fuzz_redis_posting", bytes.fromhex("c7080100000000000000") )  # ext 1, not a map inside

# JSON postings: ZooKeeper's as captured, and the etcd layout's extra fields.
zk = read("zk-layout.txt")
postings = [json.loads(p) for p in re.findall(r"data \d+ bytes: (\{.*\})\s*$", zk, re.M)]
for p in postings:
    if "uuid" in p:
        put("fuzz_json_posting", dumps(p))
        etcd = dict(p, created_on="2026-11-23T07:24:24.515281", sequence=3)
        put("fuzz_json_posting", dumps(etcd))
        put("fuzz_flow_meta", dumps(p.get("details", {})))
put("fuzz_json_posting", "2026-11-23T07:24:24.515281")

# etcd board records: selector byte, then the value.
for value in ['{"owner": "conductor-1", "lease_id": 7587885375553826565}',
              '{"last_modified": "2026-11-23T07:24:24.515281"}']:
    put("fuzz_etcd_records", b"\x01" + value.encode())
put("fuzz_etcd_records", b"\x00" + dumps({
    "uuid": "414f839f-1a8b-4cfa-ab6f-0c805e2a595a", "attempts": 2, "max_attempts": 5,
    "not_before": 1795418664515281, "lease_until": None, "trash_reason": "poison",
    "last_failure": {"exception_str": "x", "traceback_str": "", "exc_type_names": ["E", "Exception"],
                     "version": 1, "exc_args": [], "causes": []}}).encode())
for b64 in ["", "Zg==", "Zm8=", "Zm9v", "L3Rhc2tmbG93L2pvYnMvam9iYm9hcmQvam9iMS5kYXRh"]:
    put("fuzz_etcd_records", b"\x02" + b64.encode())
put("fuzz_etcd_records", b"\x03" + "\n".join([
    "/taskflow/jobs/jobboard/job1.data", "/taskflow/jobs/jobboard/job1.lock",
    "/taskflow/jobs/jobboard/job1.caboose", "/taskflow/jobs/jobboard/job1.last_modified",
    "/taskflow/.trash/jobboard/job2", "/taskflow/.trash/jobboard/job2.caboose",
    "/taskflow/jobs/jobboard/sequence"]).encode())

# Persistence dicts (model-and-states.txt) and SQL rows (sql-schema.txt).
model = read("model-and-states.txt").replace('"<datetime ', '"').replace('>"', '"')
for d in json_blocks(model):
    if not isinstance(d, dict):
        continue
    if "exc_type_names" in d:
        put("fuzz_persistence_records", b"\x04" + dumps(d).encode())
    elif "intention" in d or "results" in d:
        put("fuzz_persistence_records", b"\x02" + dumps(d).encode())
        put("fuzz_persistence_records", b"\x03" + dumps(d).encode())
    elif "created_at" in d or "updated_at" in d:
        put("fuzz_persistence_records", b"\x00" + dumps(d).encode())
    elif "state" in d and "meta" in d:
        put("fuzz_persistence_records", b"\x01" + dumps(d).encode())
    if "factory" in d:
        put("fuzz_flow_meta", dumps(d))
    elif isinstance(d.get("meta"), dict) and "factory" in d["meta"]:
        put("fuzz_flow_meta", dumps(d["meta"]))
ATOM = ["name", "uuid", "state", "intention", "results", "failure", "revert_results",
        "revert_failure", "meta", "version", "atom_type"]
COLUMNS = {"atomdetails": (b"\x05", ATOM), "logbooks": (b"\x06", ["name", "uuid", "meta",
           "created_at", "updated_at"]), "flowdetails": (b"\x07", ["name", "uuid", "state", "meta"])}
for table, record in sql_records(read("sql-schema.txt")):
    if table in COLUMNS:
        selector, names = COLUMNS[table]
        fields = [record.get(n, "") or "\x01" for n in names]
        put("fuzz_persistence_records", selector + "\0".join(fields).encode())

# Flow meta and engine options, by hand.
put("fuzz_flow_meta", dumps({"factory": {"name": "orders.make_flow", "args": [1, "a"],
                                         "kwargs": {"order": 42}}, "store": {"x": 1}}))
put("fuzz_flow_meta", dumps({"flow_uuid": "d94889ef-6c16-44df-b2b5-8cbe963d8175",
                             "store": {"y": [1, 2]}, "options": {"engine": "parallel",
                             "max_workers": 4, "never_resolve": True}}))
put("fuzz_flow_meta", dumps({"executor": "serial", "defer_reverts": False,
                             "inject_transient": True}))

# Regressions: inputs that once crashed a target (times past 2262 overflowed system_clock's
# nanoseconds; a password holding '@' leaked through redaction).
put("fuzz_redis_posting", bytes.fromhex(
    "c73c0187a364617917a56d6f6e74680ba479656172cd13a2a4686f757207a66d696e75746518a67365636f6e"
    "6418ab6d6963726f7365636f6e64ce0007dcd1"))  # a datetime in 5026
put("fuzz_json_posting", dumps(dict(postings[0], created_on="5026-11-23T07:24:24.515281",
                                    sequence=1)))
put("fuzz_etcd_records", b'\x01{"last_modified": "5026-11-23T07:24:24.515281"}')
put("fuzz_persistence_records", b"\x00" + dumps({
    "name": "b", "uuid": "u", "meta": {}, "created_at": "5026-11-23T07:22:53.225832",
    "updated_at": {"day": 23, "month": 11, "year": 5026, "hour": 7, "minute": 22, "second": 53,
                   "microsecond": 510866}}).encode())
put("fuzz_persistence_records", b"\x00" + dumps({
    "name": "b", "uuid": "u", "created_at": "2026-11-23 07:22:53.abc"}).encode())

# URIs.
for uri in ["zookeeper://127.0.0.1:2181/taskflow/jobs?session_timeout_ms=10000",
            "zookeeper://h1:2181,h2:2181", "redis://127.0.0.1:6379/0?namespace=taskflow",
            "redis://user:secret@host:6380/3?timeout_ms=300", "redis://:p@ss@host",
            "etcd://127.0.0.1:2379,10.0.0.2/jobboard?timeout_ms=500", "etcd://h/",
            "postgresql://user:secret@localhost:5432/taskflow?sslmode=disable",
            "host=localhost user=taskflow password='s e c' dbname=tf",
            "sqlite:///board.db?lease_ms=1500&max_attempts=3"]:
    put("fuzz_uris", uri)
