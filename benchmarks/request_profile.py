"""``--profile``: where the CPU of one request goes, measured in this process.

Each kind of request goes ``--profile-requests`` times straight into the WSGI app, with
no gunicorn and no client sockets, so what is left is the app's own CPU. Then the same
requests run again with every piece in ``benchmarks.pieces.TIMED`` timed on its own.
Only Redis is real: a private redis-server, as in the load run. With the gevent worker
class (the default) the profile runs in a child process that is monkey-patched first,
as a gunicorn gevent worker is: sockets, locks and ``select`` then cost what they cost
in production. (Not named ``profile.py``: run as a script, ``benchmarks/`` comes first
on ``sys.path``, and that name would hide the standard library's ``profile``, which
``cProfile`` imports.)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.pieces import LABELS, TIMED, CpuMeter
from benchmarks.scenarios import SCENARIOS, verify_bodies
from benchmarks.seed import BENCH_API_KEY, SEND_PHASE_START, seed, us_phones
from benchmarks.servers import ROOT, RedisServer, server_env

UNMEASURED = 200  # requests of each batch before the clock starts
KINDS = ("send", "verify", "minimal", "healthz")  # the column order of the piece table

Apps = dict[str, tuple[Any, Callable[[int], list[dict]]]]  # kind -> (WSGI app, environ factory)


def profile_main(args: argparse.Namespace) -> int:
    """Each request kind ``--profile-requests`` times through the WSGI app in this process
    (no gunicorn, no client sockets): CPU per request, then the CPU of each piece."""
    if args.worker_class == "gevent" and not _gevent_patched():
        return subprocess.call([sys.executable, "-m", "benchmarks.gevent_profile", *sys.argv[1:]], cwd=ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="otpgw-profile-"))
    redis = None
    try:
        redis = RedisServer(workdir).start()
        env = server_env(args, args.worker_class, 1, redis.url, 0, workdir)
        os.environ.update({k: v for k, v in env.items() if k.startswith(("OTPGW_", "PROMETHEUS_"))})
        if args.multiproc_metrics:
            os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        apps = _profile_apps(args, env, workdir)
        print(f"in-process ({'gevent-patched' if _gevent_patched() else 'no gevent'}), {args.profile_requests} "
              f"requests per kind after {UNMEASURED} unmeasured; log level "
              f"{args.log_level}, prometheus multiprocess mode {'on' if args.multiproc_metrics else 'off'}\n")
        totals = _print_request_costs(args, apps)
        _print_component_costs(args, apps, totals)
        return 0
    finally:
        if redis:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _profile_apps(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> Apps:
    """otpgw is built as otpgw.wsgi builds it, except that its log lines go to a file
    instead of stdout. Every send goes to a new phone, every verify to a seeded code."""
    import logging

    from werkzeug.test import EnvironBuilder

    from otpgw import create_app
    from otpgw.config import load_settings
    from otpgw.logs import configure_logging

    settings = load_settings(environ=env)
    configure_logging(settings.logging.level)
    logging.getLogger().handlers[0].setStream(open(workdir / "app.log", "w"))  # noqa: SIM115 (lives as long as we do)
    app = create_app(settings)
    import benchmarks.minimal_app as minimal  # reads OTPGW_REDIS_URL, so only now

    auth = {"Authorization": f"Bearer {BENCH_API_KEY}"}

    def environs(kind: str, bodies) -> list[dict]:
        scenario = SCENARIOS[kind]
        return [EnvironBuilder(method=scenario.method, path=scenario.path, json=b, headers=auth).get_environ()
                for b in bodies]

    per_kind = 4 * (args.profile_requests + UNMEASURED)  # four batches at most per kind
    phones = iter(us_phones(per_kind, SEND_PHASE_START))
    codes = iter(seed(app, per_kind // 2, us_phones(per_kind // 2)))
    verifies = (b for code_id, _, code in codes for b in verify_bodies(code_id, code))
    keys = iter(range(10 ** 9))
    return {
        "healthz": (app, lambda n: environs("healthz", [None] * n)),
        "send": (app, lambda n: environs("send", [{"phone": next(phones)} for _ in range(n)])),
        "verify": (app, lambda n: environs("verify", [next(verifies) for _ in range(n)])),
        "minimal": (minimal.application, lambda n: environs("minimal", [{"key": f"p{next(keys)}"} for _ in range(n)])),
    }


def _call(app, environ: dict) -> None:
    result = app(environ, lambda status, headers, exc_info=None: None)
    b"".join(result)
    getattr(result, "close", lambda: None)()


def _run_batch(app, make: Callable[[int], list[dict]], n: int) -> tuple[float, float]:
    """(CPU, wall) seconds per request over ``n`` requests, after UNMEASURED unmeasured."""
    for environ in make(UNMEASURED):
        _call(app, environ)
    batch = make(n)
    cpu, wall = time.process_time(), time.perf_counter()
    for environ in batch:
        _call(app, environ)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def _print_request_costs(args: argparse.Namespace, apps: Apps) -> dict[str, float]:
    print("| request | CPU µs/req | wall µs/req (incl. the Redis round trip) |\n| --- | ---: | ---: |")
    totals = {}
    for kind, (app, make) in apps.items():
        cpu, wall = _run_batch(app, make, args.profile_requests)
        totals[kind] = cpu
        print(f"| {SCENARIOS[kind].title} | {cpu * 1e6:.0f} | {wall * 1e6:.0f} |")
    return totals


def _print_component_costs(args: argparse.Namespace, apps: Apps, totals: dict[str, float]) -> None:
    """The same requests with each piece in TIMED (and the minimal app's EVALSHA) timed.
    A piece's time covers the unmeasured requests too, so it is divided by all of them."""
    meter = CpuMeter()
    for label, owner, attribute, optional in TIMED:
        meter.patch(label, owner, attribute, optional)
    for app, _ in apps.values():
        meter.rebind_hooks(app)
    spent, instrumented = {}, {}
    for kind in KINDS:
        app, make = apps[kind]
        meter.spent.clear()
        meter.on = True
        instrumented[kind] = _run_batch(app, make, args.profile_requests)[0]
        meter.on = False
        spent[kind] = {label: t / (args.profile_requests + UNMEASURED) for label, t in meter.spent.items()}
    print("\nCPU µs per request by piece (each timed on its own in an instrumented run, a piece inside another "
          "charged to itself only; the timers add about 1 µs per timed call):\n")
    print("| piece | " + " | ".join(SCENARIOS[k].title for k in KINDS) + " |\n| --- |" + " ---: |" * len(KINDS))
    for label in LABELS:
        print(f"| {label} | " + " | ".join(f"{spent[k].get(label, 0) * 1e6:.0f}" for k in KINDS) + " |")
    rest = {k: instrumented[k] - sum(spent[k].values()) for k in KINDS}
    print("| rest: Flask/Werkzeug dispatch and response, otpgw service and views | "
          + " | ".join(f"{rest[k] * 1e6:.0f}" for k in KINDS) + " |")
    print("| **total (instrumented)** | " + " | ".join(f"{instrumented[k] * 1e6:.0f}" for k in KINDS) + " |")
    print("| total (plain run above) | " + " | ".join(f"{totals[k] * 1e6:.0f}" for k in KINDS) + " |")


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")
