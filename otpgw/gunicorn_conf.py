"""gunicorn settings for ``otpgw serve``, from the environment.

Defaults are the measured best on a 2-core machine (see benchmarks/README.md): gevent
workers, one per core; more workers than cores cost CPU per request and add no throughput. ``worker_tmp_dir`` is /dev/shm so a read-only root filesystem
works, and the access log is a JSON line without query strings or bodies.
"""
import multiprocessing
import os
import shutil

bind = os.environ.get("OTPGW_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("OTPGW_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("OTPGW_WORKER_CLASS", "gevent")
threads = int(os.environ.get("OTPGW_THREADS", "1"))
worker_connections = int(os.environ.get("OTPGW_WORKER_CONNECTIONS", "1000"))  # greenlets are cheap
timeout = int(os.environ.get("OTPGW_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("OTPGW_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("OTPGW_KEEPALIVE", "5"))
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-" if os.environ.get("OTPGW_GUNICORN_ACCESS_LOG", "false").lower() == "true" else None
access_log_format = ('{"logger":"gunicorn.access","remote":"%(h)s","method":"%(m)s","path":"%(U)s",'
                     '"status":"%(s)s","bytes":"%(B)s","duration_us":"%(D)s","request_id":"%({x-request-id}o)s"}')
errorlog = "-"
control_socket_disable = True  # it would need a writable $HOME; nothing here uses it
forwarded_allow_ips = os.environ.get("OTPGW_FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Start each run with an empty metrics directory (stale files would skew counters),
    and answer gunicorn's own errors in otpgw's JSON envelope."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
    from otpgw.serving import install_error_writer

    install_error_writer()


def when_ready(server):
    """Probes from the master, on their own port: stalled requests cannot starve them."""
    from otpgw.serving import start_master_probes

    start_master_probes(server)


def pre_request(worker, req):
    from otpgw.serving import close_when_draining

    close_when_draining(req)


def post_fork(server, worker):
    from otpgw.serving import close_in_worker

    close_in_worker()


def post_worker_init(worker):
    """The app is loaded: move every object it made so far (modules, settings, schemas)
    out of the garbage collector's sight. A full collection then scans only what requests
    made, a few ms instead of ~50 ms during which all of the worker's connections wait
    (benchmarks/README.md: it was most of the p99)."""
    import gc

    gc.freeze()


def child_exit(server, worker):
    """Let prometheus-client drop the gauges of a worker that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
