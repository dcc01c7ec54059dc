# syntax=docker/dockerfile:1
#
# otpgw container image: a two-stage build.
#   build    creates /opt/venv, installs the dependencies (cached until pyproject.toml
#            changes), then the otpgw package itself.
#   runtime  the same slim Python base, /opt/venv copied in, nothing else: no compiler,
#            no pip cache, no source tree; runs as the numeric non-root user 10001.
#
#   docker build -t otpgw .
#   docker run --rm -p 8080:8080 otpgw dev --host 0.0.0.0   # try it: in-memory store, codes in the log
#   docker run --rm -p 8080:8080 --env-file otpgw.env otpgw   # API (gunicorn); OTPGW_REDIS_URL,
#                                                             #   OTPGW_SECRET_KEYS, OTPGW_API_KEYS...
#   docker run --rm --env-file otpgw.env otpgw worker         # HEALTHCHECK probes 8080, then 8081
#   docker run --rm --env-file otpgw.env --device /dev/ttyUSB0 --group-add 20 \
#       -v "$PWD/otpgw.toml:/etc/otpgw/otpgw.toml:ro" -e OTPGW_CONFIG=/etc/otpgw/otpgw.toml \
#       otpgw worker --transport gsm                      # [transports.gsm] type = "modem", port = "/dev/ttyUSB0"

FROM python:3.11-slim-bookworm AS build

# pip runs as root in a throwaway stage; no version nag, no cache kept in the layer.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# Every later python/pip call uses the venv that the runtime stage copies.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first: read them from pyproject.toml alone, so editing the source does
# not reinstall them (the build backend would need the whole package to do this).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir --requirement /tmp/requirements.txt

# Then the package itself; .dockerignore lets only pyproject, README, LICENSE and otpgw/ in.
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && pip uninstall --yes pip


FROM python:3.11-slim-bookworm AS runtime

ARG VERSION=0.0.0.dev0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="otpgw" \
      org.opencontainers.image.description="One-time codes over SMS: send and verify API, delivery workers for HTTP carriers and GSM modems" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/otpgw/otpgw" \
      org.opencontainers.image.documentation="https://github.com/otpgw/otpgw#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

# The venv's console scripts (otpgw, gunicorn) come first on PATH.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# The root filesystem is read-only in Kubernetes: never try to write .pyc files.
ENV PYTHONDONTWRITEBYTECODE=1
# Log lines reach `docker logs` / kubectl logs at once, not when a buffer fills.
ENV PYTHONUNBUFFERED=1
# prometheus-client's multiprocess mode: gunicorn workers share counters through files
# here; /tmp is the one writable place (an emptyDir in the Helm chart).
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/otpgw-metrics

# A fixed numeric identity, so Kubernetes runAsNonRoot can verify it without /etc/passwd.
RUN groupadd --system --gid 10001 otpgw \
    && useradd --system --uid 10001 --gid otpgw --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin otpgw

COPY --from=build /opt/venv /opt/venv

USER 10001:10001

# 8080: API (otpgw serve). 8081: health and metrics of `otpgw worker`.
EXPOSE 8080 8081

# `otpgw healthcheck` GETs /healthz on 127.0.0.1 with urllib: the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["otpgw", "healthcheck"]

ENTRYPOINT ["otpgw"]
CMD ["serve"]
