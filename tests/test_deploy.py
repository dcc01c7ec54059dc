"""The container image and the Helm chart, as someone deploying otpgw sees them.

The chart is rendered with the helm binary that ``scripts/install_deploy_tools.sh``
puts in ``.tools/bin``; the tests read the manifests a cluster would receive. Without
the tools they fail (never skip) and say how to get them.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from otpgw.config import RouteConfig, SettingsError, load_settings

pytestmark = pytest.mark.slow  # helm, hadolint, kubernetes-validate subprocesses

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "otpgw"
TOOLS = ROOT / ".tools"
INSTALL_HINT = "run `bash scripts/install_deploy_tools.sh` to install helm and hadolint into .tools/"
SCENARIOS = sorted(CHART.glob("ci/*-values.yaml"))
SECRET_KEY = "test-secret-key-0123456789abcdef"
API_KEY = "test-api-key-0123456789abcdef"
MINIMAL = {"secrets": {"secretKeys": [SECRET_KEY], "apiKeys": {"web": API_KEY}}}
MODEM_PORT = "/dev/serial/by-id/usb-Quectel_EC25-if02-port0"
MODEM = {"config": {"transports": {"gsm": {"type": "modem", "port": MODEM_PORT}}},
         "modemWorker": {"enabled": True, "transport": "gsm", "nodeSelector": {"kubernetes.io/hostname": "sms-1"}}}
# The README's example: a carrier and a modem, the modem first for two countries.
CARRIER_SECRETS = {"TWILIO_AUTH_TOKEN": "twilio-auth-token-0123456789", "MODEM_PIN": "1234"}
TRANSPORTS = {
    "secrets": {"extra": CARRIER_SECRETS},
    "config": {
        "public_url": "https://otp.example.com",
        "transports": {
            "tw": {"type": "twilio", "account_sid": "AC0123...", "auth_token": "${TWILIO_AUTH_TOKEN}",
                   "from": "+15017122661"},
            "gsm": {"type": "modem", "port": MODEM_PORT, "baudrate": 115200, "pin": "${MODEM_PIN}"},
        },
        "routes": [{"countries": ["DE", "AT"], "transports": ["gsm", "tw"]}, {"transports": ["tw"]}],
    },
    "modemWorker": MODEM["modemWorker"],
}


def tool(name: str) -> Path:
    """A deploy tool from .tools, or a failed test that says how to install it."""
    for candidate in (TOOLS / "bin" / name, TOOLS / "venv" / "bin" / name):
        if os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"{name} is missing from .tools: {INSTALL_HINT}", pytrace=False)


def merged(*layers: dict) -> dict:
    """Deep-merge value layers the way helm merges several -f files."""
    out: dict = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = value
    return out


def helm(*args: str, values: dict | None = None, chart: Path = CHART) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as fh:
        yaml.safe_dump(values or {}, fh)
        fh.flush()
        return subprocess.run([str(tool("helm")), *args, str(chart), "--values", fh.name],
                              capture_output=True, text=True, timeout=120)


class Manifests(list):
    """The documents of one render, with look-ups by kind and component."""

    def kind(self, kind: str) -> list[dict]:
        return [d for d in self if d["kind"] == kind]

    def component(self, kind: str, component: str) -> dict:
        found = [d for d in self.kind(kind)
                 if d["metadata"]["labels"].get("app.kubernetes.io/component") == component]
        assert len(found) == 1, f"expected one {kind} for {component}, found {len(found)}"
        return found[0]

    def pod_specs(self) -> list[tuple[str, dict]]:
        specs = [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in self.kind("Deployment")]
        return specs + [(d["metadata"]["name"], d["spec"]) for d in self.kind("Pod")]


def render(values: dict | None = None, *, files: tuple[Path, ...] = (), chart: Path = CHART,
           base: dict = MINIMAL) -> Manifests:
    """helm template with ``base`` (minimal secrets) or value files, then ``values`` on top."""
    file_args = [arg for f in files for arg in ("--values", str(f))]
    result = helm("template", "otpgw", "--namespace", "otpgw", *file_args, chart=chart,
                  values=merged({} if files else base, values or {}))
    assert result.returncode == 0, result.stderr
    return Manifests(d for d in yaml.safe_load_all(result.stdout) if d)


def render_error(values: dict) -> str:
    """The error helm prints when the chart refuses ``values``."""
    result = helm("template", "otpgw", "--namespace", "otpgw", values=values)
    assert result.returncode != 0, "the chart rendered values it should have refused"
    return result.stderr


def pod_annotations(docs: Manifests, component: str) -> dict:
    return docs.component("Deployment", component)["spec"]["template"]["metadata"]["annotations"]


def container(docs: Manifests, component: str) -> dict:
    return docs.component("Deployment", component)["spec"]["template"]["spec"]["containers"][0]


def config_toml(docs: Manifests) -> str:
    return docs.kind("ConfigMap")[0]["data"]["otpgw.toml"]


def secret_env(docs: Manifests) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in docs.kind("Secret")[0]["data"].items()}


def load(docs: Manifests, tmp_path: Path, env: dict[str, str] | None = None):
    """otpgw's Settings from the rendered otpgw.toml, with the Secret (or ``env``) as environment."""
    path = tmp_path / "otpgw.toml"
    path.write_text(config_toml(docs))
    return load_settings({**(secret_env(docs) if env is None else env), "OTPGW_CONFIG": str(path)})


class TestScenarios:
    """Every CI scenario renders, passes helm lint --strict and schema validation."""

    def test_the_three_documented_scenarios_exist(self):
        assert {p.name for p in SCENARIOS} >= {"default-values.yaml", "full-values.yaml", "modem-values.yaml"}

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
    def test_scenario_renders_the_api_and_worker(self, scenario):
        docs = render(files=(scenario,))
        assert docs.component("Deployment", "api")
        assert docs.component("Deployment", "worker")
        assert docs.component("Service", "api")

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
    def test_scenario_passes_strict_lint(self, scenario):
        result = subprocess.run([str(tool("helm")), "lint", "--strict", str(CHART), "--values", str(scenario)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_schema_refuses_an_unknown_pull_policy(self):
        assert "pullPolicy" in render_error(merged(MINIMAL, {"image": {"pullPolicy": "Sometimes"}}))

    def test_schema_refuses_codes_shorter_than_six_digits(self):
        assert "code_length" in render_error(merged(MINIMAL, {"config": {"code_length": 4}}))

    def test_schema_refuses_a_short_secret_key(self):
        assert "secretKeys" in render_error({"secrets": {"secretKeys": ["short"], "apiKeys": {"web": API_KEY}}})


class TestSecurityContext:
    """Pods run hardened by default: non-root, read-only root, no privileges, seccomp."""

    @pytest.mark.parametrize("values", [{}, MODEM], ids=["default", "modem"])
    def test_every_pod_and_container_is_hardened(self, values):
        docs = render(values)
        for name, spec in docs.pod_specs():
            pod = spec["securityContext"]
            assert pod["runAsNonRoot"] is True, name
            assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
            for c in spec["containers"]:
                sc = c["securityContext"]
                assert sc["runAsNonRoot"] is True, name
                assert sc["readOnlyRootFilesystem"] is True, name
                assert sc["allowPrivilegeEscalation"] is False, name
                assert sc["capabilities"]["drop"] == ["ALL"], name
                assert "add" not in sc["capabilities"], name
                assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
                assert sc.get("privileged", False) is False, name

    def test_containers_run_as_the_image_uid(self):
        for name, spec in render().pod_specs():
            assert spec["securityContext"]["runAsUser"] == 10001, name

    def test_tmp_is_a_writable_empty_dir(self):
        docs = render()
        for component in ("api", "worker"):
            spec = docs.component("Deployment", component)["spec"]["template"]["spec"]
            mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]

    def test_no_kubernetes_api_token_is_mounted(self):
        for name, spec in render().pod_specs():
            assert spec["automountServiceAccountToken"] is False, name

    def test_every_container_has_requests_and_limits(self):
        for name, spec in render(MODEM).pod_specs():
            for c in spec["containers"]:
                assert {"cpu", "memory"} <= set(c["resources"]["requests"]), name
                assert {"cpu", "memory"} <= set(c["resources"]["limits"]), name


class TestChecksum:
    """Pods roll when their settings or secrets change, and only then."""

    def test_config_checksum_changes_when_a_setting_changes(self):
        before = render({"config": {"code_ttl": 300}})
        after = render({"config": {"code_ttl": 120}})
        for component in ("api", "worker"):
            assert (pod_annotations(before, component)["checksum/config"]
                    != pod_annotations(after, component)["checksum/config"])

    def test_config_checksum_changes_when_redis_moves(self):
        before = pod_annotations(render(), "api")["checksum/config"]
        after = pod_annotations(render({"redis": {"url": "redis://other:6379/0"}}), "api")["checksum/config"]
        assert before != after

    def test_secret_checksum_changes_when_a_key_rotates(self):
        rotated = {"secrets": {"secretKeys": ["new-secret-key-0123456789abcdef", SECRET_KEY]}}
        assert (pod_annotations(render(), "api")["checksum/secret"]
                != pod_annotations(render(rotated), "api")["checksum/secret"])

    def test_checksums_are_stable_across_renders_and_unrelated_values(self):
        first = pod_annotations(render(), "api")
        second = pod_annotations(render({"api": {"replicaCount": 5}}), "api")
        assert first["checksum/config"] == second["checksum/config"]
        assert first["checksum/secret"] == second["checksum/secret"]

    def test_config_checksum_is_the_digest_of_the_mounted_file(self):
        docs = render()
        text = docs.kind("ConfigMap")[0]["data"]["otpgw.toml"]
        assert pod_annotations(docs, "api")["checksum/config"] == hashlib.sha256(text.encode()).hexdigest()


class TestSettings:
    """The ConfigMap and Secret hold settings that otpgw itself accepts."""

    def load(self, docs: Manifests, tmp_path: Path):
        return load(docs, tmp_path)

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
    def test_every_scenario_loads_in_otpgw(self, scenario, tmp_path):
        settings = self.load(render(files=(scenario,)), tmp_path)
        assert settings.secrets.keys and settings.api.keys

    def test_values_reach_the_settings(self, tmp_path):
        settings = self.load(render({"config": {"code_ttl": 120, "allowed_countries": ["GB", "IE"],
                                                "country_daily_limits": {"GB": 100}}}), tmp_path)
        assert settings.codes.ttl == 120
        assert settings.numbers.allowed_countries == ("GB", "IE")
        assert settings.numbers.daily_limit_for("GB") == 100
        assert settings.api.keys == (("web", API_KEY),)
        assert settings.secrets.keys == (SECRET_KEY,)

    def test_sentinel_values_become_sentinel_settings(self, tmp_path):
        settings = self.load(render(files=(CHART / "ci" / "full-values.yaml",)), tmp_path)
        assert len(settings.redis.sentinels) == 3
        assert settings.redis.sentinel_master == "mymaster"
        assert settings.redis.password

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
    def test_every_container_environment_is_accepted_by_otpgw(self, scenario, tmp_path):
        docs = render(files=(scenario,))
        for d in docs.kind("Deployment"):
            plain = {e["name"]: e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
            assert load(docs, tmp_path, {**secret_env(docs), **plain}), d["metadata"]["name"]

    def test_pods_point_otpgw_config_at_the_mounted_file(self):
        docs = render()
        for component in ("api", "worker"):
            c = container(docs, component)
            env = {e["name"]: e.get("value") for e in c["env"]}
            mount = next(m for m in c["volumeMounts"] if m["name"] == "config")
            assert env["OTPGW_CONFIG"] == f"{mount['mountPath']}/otpgw.toml"

    def test_sentinel_and_cluster_together_are_refused(self):
        err = render_error(merged(MINIMAL, {"redis": {"sentinel": {"enabled": True, "hosts": ["s:26379"]},
                                                      "cluster": {"enabled": True}}}))
        assert "redis.sentinel.enabled and redis.cluster.enabled cannot both be true" in err

    def test_missing_secret_keys_are_refused_with_a_sentence(self):
        assert "set secrets.secretKeys" in render_error({"secrets": {"apiKeys": {"web": API_KEY}}})

    def test_missing_api_keys_are_refused_unless_unauthenticated_is_chosen(self):
        assert "set secrets.apiKeys" in render_error({"secrets": {"secretKeys": [SECRET_KEY]}})
        docs = render({"secrets": {"apiKeys": None}, "config": {"allow_unauthenticated": True}})
        assert docs.component("Deployment", "api")

    def test_settings_the_chart_manages_are_refused_in_config(self):
        assert "use redis.url instead" in render_error(merged(MINIMAL, {"config": {"redis_url": "redis://x"}}))


class TestExistingSecret:
    """A Secret the user manages replaces the chart's own."""

    def test_no_secret_is_rendered_and_every_pod_reads_the_existing_one(self):
        docs = render(merged(MODEM, {"existingSecret": "otp-credentials"}), base={})
        assert docs.kind("Secret") == []
        for component in ("api", "worker", "modem-worker"):
            refs = [s["secretRef"]["name"] for s in container(docs, component)["envFrom"] if "secretRef" in s]
            assert refs == ["otp-credentials"]
            assert "checksum/secret" not in pod_annotations(docs, component)


class TestModemWorker:
    """The modem worker is one pod on the modem's node, and the chart refuses to scale it."""

    def test_disabled_by_default(self):
        assert not [d for d in render().kind("Deployment") if "modem" in d["metadata"]["name"]]

    def test_one_replica_recreated_on_the_modem_node_with_dialout(self):
        docs = render(files=(CHART / "ci" / "modem-values.yaml",))
        deployment = docs.component("Deployment", "modem-worker")
        spec = deployment["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}
        pod = spec["template"]["spec"]
        assert 20 in pod["securityContext"]["supplementalGroups"]
        assert pod["nodeSelector"] == {"kubernetes.io/hostname": "sms-gateway-1"}
        c = pod["containers"][0]
        assert c["args"][:3] == ["worker", "--transport", "gsm"]
        device = next(v for v in pod["volumes"] if "hostPath" in v)
        assert device["hostPath"] == {"path": MODEM_PORT, "type": "CharDevice"}
        assert {"name": device["name"], "mountPath": MODEM_PORT} in c["volumeMounts"]

    def test_it_runs_its_transport_with_the_device_and_no_privilege(self):
        docs = render(TRANSPORTS)
        deployment = docs.component("Deployment", "modem-worker")
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        pod = deployment["spec"]["template"]["spec"]
        c = pod["containers"][0]
        assert c["args"] == ["worker", "--transport", "gsm"]
        assert {"name": "modem", "hostPath": {"path": MODEM_PORT, "type": "CharDevice"}} in pod["volumes"]
        assert {"name": "modem", "mountPath": MODEM_PORT} in c["volumeMounts"]
        assert c["securityContext"]["privileged"] is False
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert 20 in pod["securityContext"]["supplementalGroups"]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
        assert container(docs, "worker")["args"] == ["worker"]

    def test_a_modem_transport_without_the_modem_worker_is_refused(self):
        err = render_error(merged(MINIMAL, MODEM, {"modemWorker": {"enabled": False}}))
        assert "config.transports.gsm is a modem (type \"modem\"), but no modem worker runs it" in err

    def test_the_modem_worker_without_a_modem_transport_is_refused(self):
        values = merged(MINIMAL, {"modemWorker": MODEM["modemWorker"]})
        err = render_error(values)
        assert 'modemWorker.enabled is true but config.transports has no transport of type "modem"' in err
        err = render_error(merged(values, {"config": {"transports": {"gsm": {"type": "twilio"}}}}))
        assert 'has no transport of type "modem"' in err

    def test_the_modem_worker_must_name_its_modem(self):
        err = render_error(merged(MINIMAL, MODEM, {"modemWorker": {"transport": "tw"}}))
        assert 'modemWorker.transport is "tw" but must name the modem transport it runs' in err

    def test_the_modem_port_must_be_a_device_path(self):
        err = render_error(merged(MINIMAL, MODEM, {"config": {"transports": {"gsm": {"port": "${MODEM_PORT}"}}}}))
        assert "config.transports.gsm.port must be the modem's device path on the node" in err

    def test_more_than_one_replica_is_refused(self):
        err = render_error(merged(MINIMAL, MODEM, {"modemWorker": {"replicaCount": 2}}))
        assert "modemWorker.replicaCount is 2 but must be 0 or 1" in err

    def test_an_autoscaler_for_the_modem_is_refused(self):
        err = render_error(merged(MINIMAL, MODEM, {"modemWorker": {"autoscaling": {"enabled": True}}}))
        assert "modemWorker.autoscaling.enabled must be false" in err

    def test_a_modem_without_node_selector_is_refused(self):
        err = render_error(merged(MINIMAL, {"modemWorker": {"enabled": True}}))
        assert "modemWorker.nodeSelector is required" in err

    def test_a_device_plugin_resource_replaces_the_host_path(self):
        docs = render(merged(MODEM, {"modemWorker": {"device": {"resourceName": "smarter-devices/ttyUSB0"}}}))
        pod = docs.component("Deployment", "modem-worker")["spec"]["template"]["spec"]
        assert not [v for v in pod["volumes"] if "hostPath" in v]
        resources = pod["containers"][0]["resources"]
        assert resources["limits"]["smarter-devices/ttyUSB0"] == "1"
        assert resources["requests"]["smarter-devices/ttyUSB0"] == "1"

    def test_user_supplemental_groups_keep_dialout(self):
        docs = render(merged(MODEM, {"modemWorker": {"podSecurityContext": {"supplementalGroups": [5000]}}}))
        groups = docs.component("Deployment", "modem-worker")["spec"]["template"]["spec"]["securityContext"]
        assert set(groups["supplementalGroups"]) == {20, 5000}

    def test_no_autoscaler_or_budget_ever_targets_the_modem(self):
        on = {"enabled": True}
        docs = render(merged(MODEM, {"api": {"autoscaling": on, "pdb": on}, "worker": {"autoscaling": on, "pdb": on}}))
        targets = [d["spec"]["scaleTargetRef"]["name"] for d in docs.kind("HorizontalPodAutoscaler")]
        budgets = [d["metadata"]["labels"]["app.kubernetes.io/component"] for d in docs.kind("PodDisruptionBudget")]
        assert targets == ["otpgw-api", "otpgw-worker"]
        assert sorted(budgets) == ["api", "worker"]


class TestTransports:
    """config.transports, config.routes and config.public_url become otpgw.toml tables that otpgw loads."""

    def test_tables_render_as_toml_tables_and_arrays_of_tables(self):
        text = config_toml(render(TRANSPORTS))
        assert "\n[transports.tw]\ntype = \"twilio\"\n" in text
        assert text.count("\n[[routes]]\n") == 2
        data = tomllib.loads(text)
        assert data["public_url"] == "https://otp.example.com"
        assert data["transports"] == TRANSPORTS["config"]["transports"]
        assert data["routes"] == TRANSPORTS["config"]["routes"]

    def test_otpgw_loads_them_with_carrier_secrets_from_the_environment(self, tmp_path):
        settings = load(render(TRANSPORTS), tmp_path)
        assert settings.public_url == "https://otp.example.com"
        assert {name: t.type for name, t in settings.transports.items()} == {"tw": "twilio", "gsm": "modem"}
        assert settings.transports["tw"].options["auth_token"] == CARRIER_SECRETS["TWILIO_AUTH_TOKEN"]
        assert settings.transports["gsm"].options["pin"] == CARRIER_SECRETS["MODEM_PIN"]
        assert settings.transports["gsm"].options["port"] == MODEM_PORT
        assert settings.routes == (RouteConfig(transports=("gsm", "tw"), countries=("DE", "AT")),
                                   RouteConfig(transports=("tw",)))

    def test_carrier_secrets_stay_in_the_secret(self):
        docs = render(TRANSPORTS)
        assert '"${TWILIO_AUTH_TOKEN}"' in config_toml(docs)
        assert CARRIER_SECRETS["TWILIO_AUTH_TOKEN"] not in config_toml(docs)
        assert secret_env(docs)["TWILIO_AUTH_TOKEN"] == CARRIER_SECRETS["TWILIO_AUTH_TOKEN"]

    def test_a_missing_secret_stops_otpgw_naming_the_variable(self, tmp_path):
        docs = render(TRANSPORTS)
        env = {k: v for k, v in secret_env(docs).items() if k != "TWILIO_AUTH_TOKEN"}
        with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN"):
            load(docs, tmp_path, env)

    def test_the_chart_readme_shows_what_the_chart_renders(self):
        readme = (CHART / "README.md").read_text()
        shown = tomllib.loads(re.search(r"```toml\n(.*?)```", readme, re.S).group(1))
        data = tomllib.loads(config_toml(render(TRANSPORTS)))
        assert shown == {key: data[key] for key in shown}

    def test_strings_and_keys_are_quoted_so_they_read_back_unchanged(self):
        brand = 'Bank "Ü" \\ C:\\path\nsecond line\ttab & <b> ${NOT_A_VAR'
        http = {"type": "http", "url": "https://sms.example.com/send?to={to}&text={text}",
                "headers": {"X-Api-Key": "${SMS_KEY}", "Content-Type": "application/json"},
                "retry_after": [1, 2.5, True], "form": [{"name": "to"}, {"name": "text"}]}
        data = tomllib.loads(config_toml(render({"config": {"brand": brand, "prefix_daily_limits": {"+4470": 5},
                                                            "transports": {"web": http}}})))
        assert data["brand"] == brand
        assert data["prefix_daily_limits"] == {"+4470": 5}
        assert data["transports"]["web"] == http

    def test_values_toml_cannot_hold_are_refused(self):
        err = render_error(merged(MINIMAL, {"config": {"transports": {"web": {"type": "http", "ports": [80, None]}}}}))
        assert "config.transports.web.ports[1] is null" in err
        err = render_error(merged(MINIMAL, {"config": {"brand": "bell\x07"}}))
        assert "config.brand holds a control character" in err

    def test_a_route_to_an_unknown_transport_is_refused(self):
        err = render_error(merged(MINIMAL, {"config": {"transports": {"tw": {"type": "twilio"}},
                                                       "routes": [{"transports": ["tw", "vonage"]}]}}))
        assert 'config.routes[0].transports names "vonage", which is not configured (configured: tw)' in err

    def test_without_transports_a_route_may_name_only_the_default_transport(self):
        assert render({"config": {"routes": [{"transports": ["console"]}]}}).kind("ConfigMap")
        err = render_error(merged(MINIMAL, {"config": {"routes": [{"transports": ["tw"]}]}}))
        assert 'config.routes[0].transports names "tw"' in err

    def test_config_transport_must_name_one_of_the_transports(self):
        err = render_error(merged(MINIMAL, {"config": {"transport": "console",
                                                       "transports": {"tw": {"type": "twilio"}}}}))
        assert 'config.transport is "console", which is not in config.transports (configured: tw)' in err

    def test_a_transport_needs_a_known_type(self):
        assert "type" in render_error(merged(MINIMAL, {"config": {"transports": {"tw": {"from": "+1"}}}}))
        assert "type" in render_error(merged(MINIMAL, {"config": {"transports": {"tw": {"type": "twillio"}}}}))


TOGGLES = [
    ({"ingress": {"enabled": True}}, {"ingress": {"enabled": False}}, "Ingress"),
    ({"api": {"autoscaling": {"enabled": True}}}, {}, "HorizontalPodAutoscaler"),
    ({"worker": {"autoscaling": {"enabled": True}}}, {}, "HorizontalPodAutoscaler"),
    ({"api": {"pdb": {"enabled": True}}}, {}, "PodDisruptionBudget"),
    ({"networkPolicy": {"enabled": True}}, {"networkPolicy": {"enabled": False}}, "NetworkPolicy"),
    ({"serviceMonitor": {"enabled": True}}, {}, "ServiceMonitor"),
]


class TestToggles:
    """Optional resources render only when their toggle is on."""

    @pytest.mark.parametrize("on, off, kind", TOGGLES, ids=[t[2] + str(i) for i, t in enumerate(TOGGLES)])
    def test_renders_only_when_on(self, on, off, kind):
        assert render(off).kind(kind) == []
        assert render(on).kind(kind)

    def test_an_autoscaled_deployment_leaves_replicas_to_the_autoscaler(self):
        docs = render({"api": {"autoscaling": {"enabled": True}}})
        assert "replicas" not in docs.component("Deployment", "api")["spec"]
        assert docs.component("Deployment", "worker")["spec"]["replicas"] == 1

    def test_service_monitors_scrape_every_component_on_its_metrics_port(self):
        docs = render(merged(MODEM, {"serviceMonitor": {"enabled": True}}))
        for component, port in (("api", "http"), ("worker", "http-metrics"), ("modem-worker", "http-metrics")):
            endpoint = docs.component("ServiceMonitor", component)["spec"]["endpoints"][0]
            assert (endpoint["port"], endpoint["path"]) == (port, "/metrics")
            service_ports = [p["name"] for p in docs.component("Service", component)["spec"]["ports"]]
            assert port in service_ports

    def test_locked_down_network_policy_admits_only_labelled_clients(self):
        docs = render({"networkPolicy": {"allowExternal": False, "allowExternalEgress": False}})
        policy = docs.component("NetworkPolicy", "api")["spec"]
        assert policy["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"otpgw-client": "true"}}}]
        assert policy["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
        assert "Egress" in policy["policyTypes"]
        egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
        assert {53, 6379} <= egress_ports
        test_pod = docs.kind("Pod")[0]
        assert test_pod["metadata"]["labels"]["otpgw-client"] == "true"

    def test_ingress_routes_to_the_api_service(self):
        docs = render({"ingress": {"enabled": True, "hosts": [{"host": "otp.example.com",
                                                                "paths": [{"path": "/", "pathType": "Prefix"}]}]}})
        rule = docs.kind("Ingress")[0]["spec"]["rules"][0]
        assert rule["host"] == "otp.example.com"
        assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "otpgw", "port": {"name": "http"}}


class TestIngress:
    """Carriers' callbacks reach the API through the Ingress, whatever paths the user routes."""

    @staticmethod
    def paths(values: dict) -> list[tuple[str, str]]:
        rule = render(merged({"ingress": {"enabled": True}}, values)).kind("Ingress")[0]["spec"]["rules"][0]
        for p in rule["http"]["paths"]:
            assert p["backend"]["service"] == {"name": "otpgw", "port": {"name": "http"}}
        return [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]

    def test_callbacks_are_added_beside_the_given_paths(self):
        hosts = [{"host": "otp.example.com", "paths": [{"path": "/otp", "pathType": "Prefix"}]}]
        assert self.paths({"ingress": {"hosts": hosts}}) == [("/otp", "Prefix"), ("/callbacks", "Prefix")]

    def test_a_path_that_covers_callbacks_is_left_alone(self):
        assert self.paths({}) == [("/", "Prefix")]
        hosts = [{"host": "otp.example.com", "paths": [{"path": "/otp"}, {"path": "/callbacks/"}]}]
        assert self.paths({"ingress": {"hosts": hosts}}) == [("/otp", "Prefix"), ("/callbacks/", "Prefix")]

    def test_callbacks_can_be_left_to_another_ingress(self):
        hosts = [{"host": "otp.example.com", "paths": [{"path": "/otp"}]}]
        assert self.paths({"ingress": {"callbacks": False, "hosts": hosts}}) == [("/otp", "Prefix")]

    def test_the_full_scenario_routes_callbacks_and_admits_the_controller(self):
        docs = render(files=(CHART / "ci" / "full-values.yaml",))
        paths = [p["path"] for p in docs.kind("Ingress")[0]["spec"]["rules"][0]["http"]["paths"]]
        assert paths == ["/otp", "/callbacks"]
        rule = docs.component("NetworkPolicy", "api")["spec"]["ingress"][0]
        assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in rule["from"]
        assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]

    def test_a_locked_down_api_behind_an_ingress_needs_the_controller_as_a_peer(self):
        err = render_error(merged(MINIMAL, {"ingress": {"enabled": True}, "networkPolicy": {"allowExternal": False}}))
        assert "needs networkPolicy.ingressPeers to admit the Ingress controller" in err


class TestShutdown:
    """Pods leave Service endpoints before SIGTERM, then get the time to finish what they hold."""

    def test_every_deployment_drains_in_pre_stop(self):
        for d in render(MODEM).kind("Deployment"):
            c = d["spec"]["template"]["spec"]["containers"][0]
            assert c["lifecycle"]["preStop"]["exec"]["command"] == ["otpgw", "drain", "--wait", "5"], \
                d["metadata"]["name"]

    def test_api_probes_use_the_masters_own_port(self):
        c = container(render(MINIMAL), "api")
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert ports == {"http": 8080, "probes": 8079} and env["OTPGW_HEALTH_PORT"] == "8079"
        assert c["livenessProbe"]["httpGet"]["port"] == c["readinessProbe"]["httpGet"]["port"] == "probes"

    def test_the_grace_period_covers_pre_stop_and_gunicorn_graceful_timeout(self):
        docs = render(MODEM)
        api = docs.component("Deployment", "api")["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in api["containers"][0]["env"]}
        sleep = int(api["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert api["terminationGracePeriodSeconds"] > sleep + int(env["OTPGW_GRACEFUL_TIMEOUT"])
        for component in ("worker", "modem-worker"):
            pod = docs.component("Deployment", component)["spec"]["template"]["spec"]
            assert pod["terminationGracePeriodSeconds"] > int(
                pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])

    def test_a_grace_period_too_short_is_refused(self):
        err = render_error(merged(MINIMAL, {"api": {"terminationGracePeriodSeconds": 25}}))
        assert ("api.terminationGracePeriodSeconds (25) must be greater than api.preStopSleepSeconds (5)"
                " + api.gunicorn.gracefulTimeout (20) = 25") in err
        err = render_error(merged(MINIMAL, {"worker": {"terminationGracePeriodSeconds": 5}}))
        assert "worker.terminationGracePeriodSeconds (5) must be greater than worker.preStopSleepSeconds (5)" in err

    def test_zero_seconds_renders_no_hook(self):
        assert "lifecycle" not in container(render({"api": {"preStopSleepSeconds": 0}}), "api")

    def test_gunicorn_timeouts_reach_the_api(self):
        c = container(render({"api": {"gunicorn": {"gracefulTimeout": 15, "keepalive": 75}}}), "api")
        assert {"name": "OTPGW_GRACEFUL_TIMEOUT", "value": "15"} in c["env"]
        assert {"name": "OTPGW_KEEPALIVE", "value": "75"} in c["env"]


class TestOneTemplate:
    """The three Deployments come from one helper: one shape, differing only where a component must."""

    def test_deployments_share_one_shape(self):
        docs = render(TRANSPORTS)
        pods = {c: docs.component("Deployment", c)["spec"]["template"] for c in ("api", "worker", "modem-worker")}
        containers = {c: t["spec"]["containers"][0] for c, t in pods.items()}
        shape = set(containers["api"]) - {"startupProbe"}
        assert {c: set(v) for c, v in containers.items()} == {"api": shape | {"startupProbe"}, "worker": shape,
                                                              "modem-worker": shape}
        assert len({json.dumps(c["securityContext"], sort_keys=True) for c in containers.values()}) == 1
        pod_contexts = {json.dumps({k: v for k, v in t["spec"]["securityContext"].items() if k != "supplementalGroups"},
                                   sort_keys=True) for t in pods.values()}
        assert len(pod_contexts) == 1
        assert len({json.dumps(sorted(t["metadata"]["annotations"])) for t in pods.values()}) == 1
        assert len({json.dumps(t["spec"]["volumes"][:2], sort_keys=True) for t in pods.values()}) == 1

    def test_each_deployment_file_calls_the_helper(self):
        for name in ("api-deployment.yaml", "worker-deployment.yaml", "modem-deployment.yaml"):
            text = (CHART / "templates" / name).read_text()
            assert 'include "otpgw.deployment"' in text and "kind: Deployment" not in text, name


class TestProbes:
    """Kubernetes asks /healthz whether to restart and /readyz whether to send traffic."""

    def test_api_probes_hit_healthz_and_readyz_on_the_masters_probe_port(self):
        c = container(render(), "api")
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert ports[c["livenessProbe"]["httpGet"]["port"]] == 8079
        assert ports[c["readinessProbe"]["httpGet"]["port"]] == 8079

    @pytest.mark.parametrize("component", ["worker", "modem-worker"])
    def test_worker_probes_hit_healthz_and_readyz_on_8081(self, component):
        c = container(render(MODEM), component)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert ports[c["livenessProbe"]["httpGet"]["port"]] == 8081
        assert {"name": "OTPGW_WORKER_HEALTH_PORT", "value": "8081"} in c["env"]

    @pytest.mark.parametrize("component", ["worker", "modemWorker"])
    def test_worker_probe_server_binds_the_configured_host(self, component):
        docs = render(merged(MODEM, {component: {"healthHost": "::"}}))
        name = {"worker": "worker", "modemWorker": "modem-worker"}[component]
        assert {"name": "OTPGW_WORKER_HEALTH_HOST", "value": "::"} in container(docs, name)["env"]

    def test_helm_test_checks_health_and_readiness_through_the_service(self):
        pod = render().kind("Pod")[0]
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        script = " ".join(pod["spec"]["containers"][0]["args"])
        assert "otpgw healthcheck --url http://otpgw.otpgw.svc:80/healthz" in script
        assert "otpgw healthcheck --url http://otpgw.otpgw.svc:80/readyz" in script

    def test_the_api_service_targets_the_api_port(self):
        docs = render()
        port = docs.component("Service", "api")["spec"]["ports"][0]
        assert port["targetPort"] == "http"
        assert {p["name"] for p in container(docs, "api")["ports"]} == {"http", "probes"}


class TestNotes:
    """After install, the notes tell how to reach the API and send and verify a code with curl."""

    def test_notes_show_curl_send_and_verify(self, tmp_path):
        # helm template never prints NOTES.txt: render it as a ConfigMap in a copy of the chart.
        chart = tmp_path / "otpgw"
        shutil.copytree(CHART, chart)
        notes = (chart / "templates" / "NOTES.txt").read_text()
        (chart / "templates" / "NOTES.txt").unlink()
        (chart / "templates" / "_notes.tpl").write_text('{{- define "test.notes" -}}\n' + notes + "{{- end -}}\n")
        (chart / "templates" / "notes.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
            'data:\n  notes: {{ include "test.notes" . | toJson }}\n')
        docs = render(chart=chart)
        text = next(d for d in docs.kind("ConfigMap") if d["metadata"]["name"] == "notes")["data"]["notes"]
        assert "kubectl port-forward -n otpgw svc/otpgw" in text
        assert re.search(r"curl .*-X POST \$OTPGW_URL/otp/send -H \"Authorization: Bearer", text)
        assert re.search(r"curl .*-X POST \$OTPGW_URL/otp/verify", text)
        assert 'transport is "console"' in text


def dockerfile_instructions() -> list[tuple[str, str, int]]:
    """(INSTRUCTION, arguments, line) of the Dockerfile, continuation lines joined."""
    out, pending, start = [], "", 0
    for number, line in enumerate((ROOT / "Dockerfile").read_text().splitlines(), 1):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        start = start or number
        pending += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip(), start))
            pending, start = "", 0
    return out


class TestDockerfile:
    """The image is hadolint-clean, non-root and starts the API by default."""

    def test_hadolint_reports_nothing(self):
        result = subprocess.run([str(tool("hadolint")), "--no-color", str(ROOT / "Dockerfile")],
                                capture_output=True, text=True, timeout=120)
        assert (result.returncode, result.stdout + result.stderr) == (0, "")

    def test_runtime_stage_runs_otpgw_serve_as_uid_10001(self):
        instructions = dockerfile_instructions()
        last_from = max(i for i, (word, _, _) in enumerate(instructions) if word == "FROM")
        runtime = {word: args for word, args, _ in instructions[last_from:]}
        assert runtime["USER"].split(":")[0] == "10001"
        assert json.loads(runtime["ENTRYPOINT"]) == ["otpgw"]
        assert json.loads(runtime["CMD"]) == ["serve"]
        assert runtime["HEALTHCHECK"].endswith('CMD ["otpgw", "healthcheck"]')

    def test_runtime_stage_copies_only_the_venv(self):
        instructions = dockerfile_instructions()
        last_from = max(i for i, (word, _, _) in enumerate(instructions) if word == "FROM")
        copies = [args for word, args, _ in instructions[last_from:] if word == "COPY"]
        assert copies == ["--from=build /opt/venv /opt/venv"]

    def test_every_env_is_commented(self):
        lines = (ROOT / "Dockerfile").read_text().splitlines()
        for word, _, number in dockerfile_instructions():
            if word == "ENV":
                assert lines[number - 2].lstrip().startswith("#"), f"ENV on line {number} has no comment"

    def test_the_image_sets_the_runtime_environment(self):
        env = " ".join(args for word, args, _ in dockerfile_instructions() if word == "ENV")
        for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PROMETHEUS_MULTIPROC_DIR=/tmp/otpgw-metrics"):
            assert setting in env


def values_keys() -> list[tuple[str, bool]]:
    """(dotted key, has a comment above it) for every key of values.yaml outside literal blocks."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []
    found = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        ancestors = [k for _, k in stack]
        stack.append((indent, key))
        if LITERAL_BLOCKS & set(ancestors):
            continue
        previous = next((p for p in reversed(lines[:number]) if p.strip()), "")
        found.append((".".join([*ancestors, key]), previous.lstrip().startswith("#")))
    return found


# Values documented as a whole (a securityContext, resources...), not key by key.
LITERAL_BLOCKS = {"podSecurityContext", "containerSecurityContext", "resources", "updateStrategy", "hosts"}


class TestValuesFile:
    """values.yaml and the chart README document every value the chart offers."""

    def test_every_key_has_a_comment(self):
        assert [key for key, commented in values_keys() if not commented] == []

    def test_the_readme_lists_every_value(self):
        readme = (CHART / "README.md").read_text()
        data = yaml.safe_load((CHART / "values.yaml").read_text())

        def is_leaf(path: str) -> bool:
            node: Any = data
            for part in path.split("."):
                node = node[part]
            return not isinstance(node, dict) or not node or path.split(".")[-1] in LITERAL_BLOCKS

        missing = [key for key, _ in values_keys() if is_leaf(key) and f"`{key}`" not in readme]
        assert missing == []

    def test_defaults_render_nothing_without_secrets(self):
        assert "set secrets.secretKeys" in render_error({})
