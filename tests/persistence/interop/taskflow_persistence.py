"""Python TaskFlow's side of the persistence interop tests (SQLite, dir, PostgreSQL, ZooKeeper).

  taskflow_persistence.py write <connection>   saves a sample logbook, prints its uuid
  taskflow_persistence.py read <connection>    prints every logbook, flow and atom detail as JSON

<connection> is a TaskFlow connection URI (sqlite:///..., postgresql://...), dir://<path> or
zookeeper://<host:port>/<path>.
"""
import contextlib
import json
import sys

from taskflow.persistence import backends
from taskflow.persistence import models
from taskflow.types import failure


def write(conn):
    book = models.LogBook("python-book")
    book.meta = {"written_by": "python"}
    flow = models.FlowDetail("python-flow", uuid="aaaaaaaa-0000-4000-8000-000000000001")
    flow.state = "SUCCESS"
    flow.meta = {"factory": "sample"}
    ok = models.TaskDetail("t-ok", uuid="aaaaaaaa-0000-4000-8000-000000000002")
    ok.state = "SUCCESS"
    ok.results = {"total": 42, "tags": ["a", "b"], "text": "caf\u00e9"}
    ok.meta = {"progress": 1.0}
    ok.version = "1.0"
    bad = models.TaskDetail("t-bad", uuid="aaaaaaaa-0000-4000-8000-000000000003")
    bad.state = "FAILURE"
    try:
        raise ValueError("boom at 42")
    except ValueError:
        bad.failure = failure.Failure()
    bad.version = "2.1"
    retry = models.RetryDetail("r", uuid="aaaaaaaa-0000-4000-8000-000000000004")
    retry.state = "SUCCESS"
    retry.results = [(1, {})]
    flow.add(ok)
    flow.add(bad)
    flow.add(retry)
    book.add(flow)
    conn.save_logbook(book)
    print(book.uuid)


def read(conn):
    out = []
    for book in conn.get_logbooks():
        b = book.to_dict()
        b["flows"] = []
        for flow in book:
            f = flow.to_dict()
            f["atoms"] = []
            for atom in flow:
                a = atom.to_dict()
                a["kind"] = type(atom).__name__
                f["atoms"].append(a)
            b["flows"].append(f)
        out.append(b)
    print(json.dumps(out, default=str))


def main():
    mode, connection = sys.argv[1], sys.argv[2]
    if connection.startswith("dir://"):
        # TaskFlow's dir backend takes its path from conf["path"], not from the URI.
        conf = {"connection": "dir", "path": connection[len("dir://"):]}
    elif connection.startswith("zookeeper://"):
        hosts, _, path = connection[len("zookeeper://"):].partition("/")
        conf = {"connection": "zookeeper", "hosts": hosts, "path": "/" + path}
    else:
        conf = {"connection": connection}
    backend = backends.fetch(conf)
    with contextlib.closing(backend.get_connection()) as conn:
        if not connection.startswith("postgresql"):
            # On PostgreSQL TaskFlow's upgrade() runs alembic, whose scripts Debian does not
            # ship; caboose created the schema (with TaskFlow's alembic revision) already.
            conn.upgrade()
        if mode == "write":
            write(conn)
        else:
            read(conn)


if __name__ == "__main__":
    main()
