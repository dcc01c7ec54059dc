#!/usr/bin/env bash
# Lint and scan the deployment artefacts, offline, with the tools from
# scripts/install_deploy_tools.sh:
#
#   1. hadolint on the Dockerfile: no finding at all.
#   2. For each helm/otpgw/ci/*-values.yaml: helm lint --strict, helm template,
#      kubernetes-validate --strict of every rendered manifest (Kubernetes $K8S_VERSION),
#      and the rendered otpgw.toml parsed as TOML (tomllib; tests/test_deploy.py also
#      loads it through otpgw itself).
#   3. checkov on every rendered scenario (framework kubernetes) and on the Dockerfile;
#      the checks it skips, each with its reason, are listed in .checkov.yaml.
#
# Exits non-zero when any step fails and prints a one-line-per-step summary.
set -uo pipefail

K8S_VERSION="${K8S_VERSION:-1.30.0}"
NAMESPACE=otpgw
RELEASE=otpgw

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/helm/otpgw"
HELM="$ROOT/.tools/bin/helm"
HADOLINT="$ROOT/.tools/bin/hadolint"
VENV="$ROOT/.tools/venv"

for tool in "$HELM" "$HADOLINT" "$VENV/bin/kubernetes-validate" "$VENV/bin/checkov"; do
    if [[ ! -x "$tool" ]]; then
        echo "missing $tool: run scripts/install_deploy_tools.sh first" >&2
        exit 2
    fi
done

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
SUMMARY=()
FAILED=0

# step NAME CMD...: run CMD with its output indented, record PASS or FAIL.
step() {
    local name="$1"
    shift
    echo "==> $name"
    if "$@" 2>&1 | sed 's/^/    /'; [[ "${PIPESTATUS[0]}" -eq 0 ]]; then
        SUMMARY+=("PASS  $name")
    else
        SUMMARY+=("FAIL  $name")
        FAILED=1
    fi
}

# hadolint must print nothing: any finding, even at info level, fails.
hadolint_clean() {
    local found
    found="$("$HADOLINT" --no-color "$ROOT/Dockerfile" 2>&1)" || { echo "$found"; return 1; }
    [[ -z "$found" ]] || { echo "$found"; return 1; }
}

render() {
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
        --kube-version "$K8S_VERSION" --values "$1" >"$2"
}

validate() {
    "$VENV/bin/kubernetes-validate" --kubernetes-version "$K8S_VERSION" --strict --quiet "$1"
}

# The ConfigMap's otpgw.toml must be valid TOML (the chart writes it with its own helper).
toml_parses() {
    "$VENV/bin/python" - "$1" <<'PY'
import sys, tomllib, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "ConfigMap"]
text = next(d["data"]["otpgw.toml"] for d in docs if "otpgw.toml" in d.get("data", {}))
data = tomllib.loads(text)
print(f"{len(data)} top-level keys; transports: {', '.join(data.get('transports', {})) or '-'}; "
      f"routes: {len(data.get('routes', []))}")
PY
}

step "hadolint Dockerfile" hadolint_clean

scenarios=("$CHART"/ci/*-values.yaml)
[[ -e "${scenarios[0]}" ]] || { echo "no scenarios in $CHART/ci" >&2; exit 2; }
mkdir -p "$OUT/manifests"
for values in "${scenarios[@]}"; do
    name="$(basename "$values" -values.yaml)"
    manifest="$OUT/manifests/$name.yaml"
    step "helm lint ($name)" "$HELM" lint --strict "$CHART" --namespace "$NAMESPACE" --values "$values"
    step "helm template ($name)" render "$values" "$manifest"
    # CRDs such as ServiceMonitor have no schema offline: kubernetes-validate warns and goes on.
    step "kubernetes-validate $K8S_VERSION ($name)" validate "$manifest"
    step "otpgw.toml is TOML ($name)" toml_parses "$manifest"
done

step "checkov kubernetes (rendered chart, ${#scenarios[@]} scenarios)" \
    "$VENV/bin/checkov" --config-file "$ROOT/.checkov.yaml" --framework kubernetes -d "$OUT/manifests"
step "checkov dockerfile" \
    "$VENV/bin/checkov" --config-file "$ROOT/.checkov.yaml" --framework dockerfile -f "$ROOT/Dockerfile"

echo
echo "deploy checks:"
printf '  %s\n' "${SUMMARY[@]}"
if [[ "$FAILED" -ne 0 ]]; then
    echo "deploy checks FAILED"
    exit 1
fi
echo "deploy checks passed"
