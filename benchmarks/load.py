"""Load-test otpgw under gunicorn against a private redis-server and print the figures.

    .venv/bin/python benchmarks/load.py [--duration 10] [--rounds 3] [--concurrency 64]
        [--worker-class gevent] [--workers 2] [--threads N] [--all-worker-classes]
    .venv/bin/python benchmarks/load.py --profile      # where the CPU of one request goes

For each worker class this starts its own ``redis-server`` on a free loopback port, and
``python -m gunicorn --config python:otpgw.gunicorn_conf otpgw.wsgi:application`` (the
production entry point, settings from ``OTPGW_*``) beside the same gunicorn serving
``benchmarks/minimal_app.py``, then measures ``--rounds`` rounds of

1. ``GET /healthz``            the framework's ceiling: Flask + otpgw's hooks, no Redis;
2. ``POST /evalsha``           the minimal app (one EVALSHA, nothing else), otpgw idle;
3. ``POST /otp/send``          every request to a different phone, the minimal app idle;
4. ``POST /otp/verify``        by id, alternately a wrong and the right code of the codes
                               the send phase issued,

and prints each round, the medians, the ratios against the minimal app with the targets
of issue 10, the workers' memory, Redis' memory per code and message, and a sizing table.

The load comes from separate processes (gevent, one keep-alive connection per
greenlet, reconnecting when the server closes, as the sync worker does after every
request). Each phase runs ``--warmup`` seconds unmeasured, then ``--duration`` seconds
measured. Besides requests/s and latency, the table shows the CPU the gunicorn workers,
Redis and the load generator used per request, read from /proc: on a small machine the
load generator competes with the server, and CPU per request is the figure it cannot
distort. Every process this starts is stopped in a ``finally``.

This module is only the command line. The work is in ``servers`` (redis-server and
gunicorn), ``scenarios`` (the four kinds of request), ``loadgen`` (the load processes),
``cputime`` (CPU from /proc), ``pyspy`` (``--py-spy``), ``phases`` (the phases of a
worker class and their latency and CPU figures), ``report`` (the tables), and
``request_profile`` with ``pieces`` (``--profile``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks.*` and `otpgw` importable

from benchmarks.memory import redis_per_code  # noqa: E402
from benchmarks.phases import bench_worker_class  # noqa: E402
from benchmarks.report import print_redis_memory, print_run, print_settings, print_sizing  # noqa: E402
from benchmarks.request_profile import profile_main  # noqa: E402
from benchmarks.servers import CLASSES  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10, help="measured seconds per phase (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the four phases; medians are reported (default 3)")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each phase (default 2)")
    p.add_argument("--concurrency", type=int, default=64, help="open connections (default 64)")
    p.add_argument("--client-procs", type=int, default=2, help="load-generator processes (default 2)")
    p.add_argument("--worker-class", choices=CLASSES, default="gevent")
    p.add_argument("--all-worker-classes", action="store_true", help="run sync, gthread and gevent in turn")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="default one per CPU, as otpgw.gunicorn_conf")
    p.add_argument("--threads", type=int, default=0, help="OTPGW_THREADS (default 1; --gthreads for gthread)")
    p.add_argument("--gthreads", type=int, default=4, help="threads per gthread worker (default 4)")
    p.add_argument("--log-level", default="INFO", help="OTPGW_LOG_LEVEL of the server (default INFO)")
    p.add_argument("--no-multiproc-metrics", dest="multiproc_metrics", action="store_false",
                   help="run without PROMETHEUS_MULTIPROC_DIR (the image sets it)")
    p.add_argument("--codes", type=int, default=0,
                   help="codes per verify phase (default: enough for the minimal app's rate)")
    p.add_argument("--memory-codes", type=int, default=10000,
                   help="codes issued to measure Redis memory per code and message (0: skip; default 10000)")
    p.add_argument("--pod-cpus", type=int, default=2, help="the pod size of the sizing table (default 2 CPUs)")
    p.add_argument("--max-rate", type=int, default=6000, help="send req/s to provide distinct phones for")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory with the server logs")
    p.add_argument("--server-output", choices=("pipe", "file", "null"), default="pipe",
                   help="where gunicorn's stdout goes: a pipe drained by cat, as a container's (default), "
                        "a file, or /dev/null")
    p.add_argument("--py-spy", metavar="PATH", help="py-spy binary: sample the workers during measured phases")
    p.add_argument("--py-spy-phases", default="send,verify,minimal,healthz", type=lambda v: v.split(","),
                   help="phases to sample with --py-spy (default all)")
    p.add_argument("--profile", action="store_true", help="profile one request of each kind in-process instead")
    p.add_argument("--profile-requests", type=int, default=3000, help="requests per kind for --profile")
    args = p.parse_args(argv)
    if args.concurrency < args.client_procs:
        p.error("--concurrency must be at least --client-procs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        return profile_main(args)
    print_settings(args)
    runs = {}
    for worker_class in CLASSES if args.all_worker_classes else (args.worker_class,):
        print(f"running worker class {worker_class} ...", flush=True)
        runs[worker_class] = bench_worker_class(args, worker_class)
        print_run(args, worker_class, runs[worker_class])
    if args.memory_codes:
        print_redis_memory(redis_per_code(args.memory_codes))
    sized = "gevent" if "gevent" in runs else next(iter(runs))
    print(f"\n(sizing from the {sized} run)")
    print_sizing(runs[sized].phases, args.pod_cpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
