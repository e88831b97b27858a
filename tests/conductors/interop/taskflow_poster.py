"""Python TaskFlow's side of the conductor interop test: a TaskFlow poster on a Redis jobboard
with SQLite persistence, whose job a caboose conductor runs.

  taskflow_poster.py <port> <namespace> <connection> post   saves a logbook whose flow detail
      names the factory caboose.examples.sum, posts a job on it with store {"x": 2, "y": 3};
      prints {"job": uuid, "book": uuid, "flow": uuid}
  taskflow_poster.py <port> <namespace> <connection> read <flow uuid>   prints the flow's state,
      its "sum" atom's state and result, and the jobs left on the board, as JSON

The factory is named in the flow detail's meta exactly as engines.save_factory_details writes
it; that helper itself insists on importing the factory in Python, which a factory that lives
in a C++ conductor cannot be.
"""
import contextlib
import json
import sys

from oslo_utils import uuidutils
from taskflow.jobs import backends as job_backends
from taskflow.persistence import backends as persistence_backends
from taskflow.persistence import models


def main():
    port, namespace, connection, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    persistence = persistence_backends.fetch({"connection": connection})
    with contextlib.closing(persistence):
        with contextlib.closing(persistence.get_connection()) as conn:
            conn.upgrade()
        board = job_backends.fetch(
            "interop", {"board": "redis", "host": "127.0.0.1", "port": port, "db": 0,
                        "namespace": namespace},
            persistence=persistence)
        board.connect()
        with contextlib.closing(board):
            if mode == "post":
                book = models.LogBook("python-poster")
                flow = models.FlowDetail("sum-from-python", uuidutils.generate_uuid())
                flow.meta = {"factory": {"name": "caboose.examples.sum", "args": [],
                                         "kwargs": {}}}
                book.add(flow)
                with contextlib.closing(persistence.get_connection()) as conn:
                    conn.save_logbook(book)
                job = board.post("sum-from-python", book=book,
                                 details={"flow_uuid": flow.uuid, "store": {"x": 2, "y": 3}})
                print(json.dumps({"job": job.uuid, "book": book.uuid, "flow": flow.uuid}))
            elif mode == "read":
                with contextlib.closing(persistence.get_connection()) as conn:
                    flow = conn.get_flow_details(sys.argv[5])
                atom = next(a for a in flow if a.name == "sum")
                jobs = [j.uuid for j in board.iterjobs(ensure_fresh=True)]
                print(json.dumps({"flow_state": flow.state, "atom_state": atom.state,
                                  "total": atom.results, "jobs": jobs}))


if __name__ == "__main__":
    main()
