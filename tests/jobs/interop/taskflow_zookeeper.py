"""Python TaskFlow's side of the ZooKeeper jobboard interop test (kazoo underneath).

  taskflow_zookeeper.py <hosts> <path> post <name> <details json>  posts, prints the uuid
  taskflow_zookeeper.py <hosts> <path> list                        prints the jobs as JSON
  taskflow_zookeeper.py <hosts> <path> claim <uuid> <who>          prints "claimed" or the
                                                                   error's class name
  taskflow_zookeeper.py <hosts> <path> hold <uuid> <who>           claims, prints "claimed",
      then keeps its session (and so the claim) until it is killed (at most 10 minutes)

<hosts> may start with user:password@: the board then uses a kazoo client with those digest
credentials (TaskFlow's make_client has no option for them), creating nodes open to that
identity only, as caboose does.
"""
import contextlib
import json
import sys
import time

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl
from taskflow.jobs import backends
from taskflow.persistence import models


def main():
    hosts, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    conf = {"board": "zookeeper", "hosts": hosts, "path": path}
    client = None
    if "@" in hosts:
        credentials, hosts = hosts.rsplit("@", 1)
        user, password = credentials.split(":", 1)
        conf["hosts"] = hosts
        client = KazooClient(hosts=hosts, auth_data=[("digest", credentials)],
                             default_acl=[make_digest_acl(user, password, all=True)])
    board = backends.fetch("interop", conf, client=client)
    board.connect()
    with contextlib.ExitStack() as cleanup:
        if client is not None:
            cleanup.callback(client.stop)  # not the board's to stop
        cleanup.enter_context(contextlib.closing(board))
        if mode == "post":
            book = models.LogBook("python-book")
            job = board.post(sys.argv[4], book=book, details=json.loads(sys.argv[5]),
                             priority="HIGH")
            print(job.uuid)
        elif mode == "list":
            jobs = []
            for job in board.iterjobs(ensure_fresh=True):
                jobs.append({"uuid": job.uuid, "name": job.name, "details": job.details,
                             "state": job.state, "priority": str(job.priority),
                             "owner": board.find_owner(job)})
            print(json.dumps(jobs))
        elif mode in ("claim", "hold"):
            uuid, who = sys.argv[4], sys.argv[5]
            job = next(j for j in board.iterjobs(ensure_fresh=True) if j.uuid == uuid)
            try:
                board.claim(job, who)
                print("claimed", flush=True)
            except Exception as e:  # the class name is what the test checks
                print(type(e).__name__, flush=True)
                return
            if mode == "hold":
                time.sleep(600)


if __name__ == "__main__":
    main()
