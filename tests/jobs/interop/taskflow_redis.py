"""Python TaskFlow's side of the Redis jobboard interop test.

  taskflow_redis.py <port> <namespace> post <name> <details json>  posts, prints the uuid
  taskflow_redis.py <port> <namespace> list                        prints the jobs as JSON
  taskflow_redis.py <port> <namespace> claim <uuid> <who>          prints "claimed" or the
                                                                   error's class name
"""
import contextlib
import json
import sys

from taskflow.jobs import backends
from taskflow.persistence import models


def main():
    port, namespace, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    conf = {"board": "redis", "host": "127.0.0.1", "port": port, "db": 0,
            "namespace": namespace}
    board = backends.fetch("interop", conf)
    board.connect()
    with contextlib.closing(board):
        if mode == "post":
            book = models.LogBook("python-book")
            job = board.post(sys.argv[4], book=book, details=json.loads(sys.argv[5]),
                             priority="HIGH")
            print(job.uuid)
        elif mode == "list":
            jobs = []
            for job in board.iterjobs(ensure_fresh=True):
                state = job.state
                # find_owner() of TaskFlow 5.0.0 raises TypeError on an unowned job.
                owner = board.find_owner(job) if state == "CLAIMED" else None
                jobs.append({"uuid": job.uuid, "name": job.name, "details": job.details,
                             "state": state, "priority": str(job.priority),
                             "owner": owner})
            print(json.dumps(jobs))
        elif mode == "claim":
            uuid, who = sys.argv[4], sys.argv[5]
            job = next(j for j in board.iterjobs(ensure_fresh=True) if j.uuid == uuid)
            try:
                board.claim(job, who)
                print("claimed")
            except Exception as e:  # the class name is what the test checks
                print(type(e).__name__)


if __name__ == "__main__":
    main()
