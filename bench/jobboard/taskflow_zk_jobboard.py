"""Python TaskFlow's ZooKeeper jobboard, measured as bench_jobboard measures caboose's.

  taskflow_zk_jobboard.py <hosts> post <count>
      posts <count> jobs through the board; prints {"posts_per_second": ...}
  taskflow_zk_jobboard.py <hosts> claim <waiting> <cycles>
      fills the board with <waiting> low-priority jobs, then times <cycles> claim + consume
      cycles of freshly posted high-priority jobs; prints {"cycles_per_second": ...}

The waiting jobs are created as TaskFlow's post() creates them (the same JSON posting under
the same sequential node name), but with kazoo's asynchronous calls: posting 100 000 through
post() one by one would take minutes before the measurement starts. The board connects after
they exist, so it loads all of them, as a conductor joining a busy board does. Run with
Debian's /usr/bin/python3 (python3-taskflow, python3-kazoo).
"""
import json
import sys
import time
import uuid

from kazoo.client import KazooClient
from oslo_serialization import jsonutils
from taskflow import exceptions
from taskflow.jobs import backends as job_backends
from taskflow.jobs import base


def board(hosts, path):
    jb = job_backends.fetch("bench", {"board": "zookeeper", "hosts": hosts, "path": path,
                                      "timeout": 30.0})
    jb.connect()
    return jb


def fill(hosts, path, waiting):
    zk = KazooClient(hosts=hosts, timeout=30.0)
    zk.start(timeout=30)
    zk.ensure_path(path)
    pending = []
    for i in range(waiting):
        posting = base.format_posting(str(uuid.uuid4()), "waiting-%d" % i,
                                      priority=base.JobPriority.LOW)
        data = jsonutils.dumps(posting).encode("utf-8")
        pending.append(zk.create_async(path + "/job", data, sequence=True))
        if len(pending) >= 2000:
            for p in pending:
                p.get()
            pending = []
    for p in pending:
        p.get()
    zk.stop()
    zk.close()


def main():
    hosts, mode = sys.argv[1], sys.argv[2]
    path = "/taskflow-bench-" + uuid.uuid4().hex[:8] + "/jobs"
    if mode == "post":
        count = int(sys.argv[3])
        jb = board(hosts, path)
        start = time.perf_counter()
        for i in range(count):
            jb.post("job", details={"store": {"order": 17}})
        elapsed = time.perf_counter() - start
        print(json.dumps({"posts_per_second": count / elapsed}))
    else:
        waiting, cycles = int(sys.argv[3]), int(sys.argv[4])
        fill(hosts, path, waiting)
        jb = board(hosts, path)
        while sum(1 for _ in jb.iterjobs()) < waiting:  # its watch loads them in the background
            time.sleep(0.05)
        # Like caboose's bench: one cycle before timing.
        job = jb.post("warm-up")
        time.sleep(0.01)
        jb.claim(job, "bench")
        jb.consume(job, "bench")
        spent = 0.0
        unknown = 0
        for i in range(cycles):
            job = jb.post("next", priority=base.JobPriority.HIGH)
            time.sleep(0.01)
            start = time.perf_counter()
            jb.claim(job, "bench")
            while True:
                try:
                    jb.consume(job, "bench")
                    break
                except exceptions.NotFound:
                    # The board forgot the job: its watch processed a listing taken before the
                    # post. It knows it again once the watch catches up; that wait is not timed.
                    spent += time.perf_counter() - start
                    unknown += 1
                    time.sleep(0.01)
                    start = time.perf_counter()
            spent += time.perf_counter() - start
        print(json.dumps({"cycles_per_second": cycles / spent, "unknown_job_retries": unknown}))
    jb.close()


if __name__ == "__main__":
    main()
