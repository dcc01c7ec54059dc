"""The child process of ``load.py --profile`` under gevent: patched before anything imports
``socket``, as a gunicorn gevent worker is, then the same profile (``request_profile``)."""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from benchmarks.load import parse_args  # noqa: E402
from benchmarks.request_profile import profile_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(profile_main(parse_args(sys.argv[1:])))
