"""compose.yaml, deploy/prometheus.yml and deploy/k8s/: every Kubernetes manifest valid for the
stated version (kubernetes-validate's offline schemas, strict), every variable one the service
documents and accepts, and the drain's timings consistent from the service out to the platform."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes

from speech_realtime.config import Settings
from speech_realtime.web.drain import KILL_MARGIN

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
#: The Kubernetes version the manifests are written and validated for.
KUBERNETES_VERSION = "1.33.0"
MANIFESTS = sorted(path for path in K8S.rglob("*.yaml") if path.name != "kustomization.yaml")
#: Names of the service's configuration (the rest, such as TMPDIR or HOME, belong to the platform).
SERVICE_VARIABLE = re.compile(r"^(?:SPEECH|AZURE_OPENAI|OPENAI|LOG|PROMETHEUS)_[A-Z_]+$|^(?:HOST|PORT)$")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def resources() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in documents(path)]


def deployment(name: str) -> dict[str, Any]:
    return next(
        doc
        for path, doc in resources()
        if doc["kind"] == "Deployment" and path.parent == K8S and doc["metadata"]["name"] == name
    )


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = doc["spec"]["template"]["spec"]["containers"]
    return only


def env_of(spec: dict[str, Any]) -> dict[str, str]:
    """A container's variables; a secret's value as a placeholder long enough for any check."""
    return {item["name"]: item.get("value", "s" * 64) for item in spec.get("env", [])}


def documented() -> set[str]:
    return set(
        re.findall(r"^#?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M)
    )


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def seconds(value: str) -> float:
    found = re.fullmatch(r"(\d+)s", value)
    assert found, value
    return float(found.group(1))


# -- Kubernetes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: str(path.relative_to(K8S)))
def test_every_manifest_is_valid_for_the_stated_kubernetes_version(path: Path) -> None:
    for doc in documents(path):
        kubernetes.validate(doc, KUBERNETES_VERSION, strict=True)  # raises on an invalid resource


def test_an_invalid_manifest_would_fail() -> None:
    broken = {**deployment("speech-realtime"), "spec": {"replicas": "two"}}
    with pytest.raises(kubernetes.ValidationError):
        kubernetes.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_but_the_gpu_variant() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {path.name for path in MANIFESTS if path.parent == K8S}
    kinds = {doc["kind"] for _, doc in resources()}
    expected = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert expected | {"NetworkPolicy", "Secret", "Ingress"} <= kinds


def test_the_service_pods_probe_drain_and_run_locked_down() -> None:
    doc = deployment("speech-realtime")
    spec, pod = container(doc), doc["spec"]["template"]["spec"]
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "startupProbe" in spec
    env = env_of(spec)
    settings = Settings.from_mapping({k: v for k, v in env.items() if k != "SPEECH_API_KEYS_FILE"})
    assert settings.ops_open, "probes cannot send a key: /readyz must answer without one"
    pre_stop = int(spec["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + settings.graceful_timeout + KILL_MARGIN
    assert pod["securityContext"]["runAsNonRoot"] and spec["securityContext"]["readOnlyRootFilesystem"]
    writable = {mount["mountPath"] for mount in spec["volumeMounts"] if not mount.get("readOnly")}
    assert env["TMPDIR"] in writable, "serve's metrics directory needs a writable TMPDIR"
    keys = next(m["mountPath"] for m in spec["volumeMounts"] if m["name"] == "keys")
    assert env["SPEECH_API_KEYS_FILE"].startswith(keys + "/")


@pytest.mark.parametrize("path", [K8S / "engine-deployment.yaml", K8S / "gpu" / "engine-deployment-gpu.yaml"])
def test_the_engine_pods_serve_their_sessions_to_the_end_and_say_their_device(path: Path) -> None:
    (doc,) = documents(path)
    spec, pod = container(doc), doc["spec"]["template"]["spec"]
    settings = Settings.from_mapping(env_of(spec))
    pre_stop = int(spec["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pre_stop > Settings().request_timeout, "sessions in flight end before SIGTERM"
    assert pod["terminationGracePeriodSeconds"] > pre_stop
    assert settings.engine_threads == float(spec["resources"]["limits"]["cpu"])
    assert spec["args"][:3] == ["engine", "--host", "0.0.0.0"]
    if settings.engine_device == "cuda":
        assert spec["resources"]["limits"]["nvidia.com/gpu"] == 1 and pod["tolerations"]


def test_the_service_reaches_the_engine_service() -> None:
    url = env_of(container(deployment("speech-realtime")))["SPEECH_ENGINE_URL"]
    engine = next(
        doc for _, doc in resources() if doc["kind"] == "Service" and "engine" in doc["metadata"]["name"]
    )
    assert url == f"http://{engine['metadata']['name']}:{engine['spec']['ports'][0]['port']}"


def test_the_ingress_streams_and_outlasts_the_deadline_and_the_sdk_sockets() -> None:
    (doc,) = documents(K8S / "ingress.yaml")
    notes = doc["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert notes["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    defaults = Settings()
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        timeout = float(notes[f"nginx.ingress.kubernetes.io/{name}"])
        assert timeout > max(defaults.request_timeout, defaults.sdk_idle_timeout)
    paths = {path["path"] for rule in doc["spec"]["rules"] for path in rule["http"]["paths"]}
    assert not paths & {"/", "/metrics", "/readyz"}, "operations routes stay inside the cluster"


# -- variables ----------------------------------------------------------------------------------


def every_variable() -> dict[str, set[str]]:
    """Each service variable named in a deployment file, with the files naming it."""
    found: dict[str, set[str]] = {}
    texts = {path: path.read_text(encoding="utf-8") for path in [*MANIFESTS, ROOT / "compose.yaml"]}
    texts[ROOT / "Dockerfile"] = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for path, text in texts.items():
        for name in re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", text):
            if SERVICE_VARIABLE.match(name):
                found.setdefault(name, set()).add(path.name)
    return found


def test_every_variable_in_the_deployment_files_is_a_documented_setting() -> None:
    found = every_variable()
    assert {"SPEECH_ENGINE_URL", "SPEECH_API_KEYS_FILE", "SPEECH_ENGINE_DEVICE", "HOST", "PORT"} <= set(found)
    unknown = {name: files for name, files in found.items() if name not in documented()}
    assert not unknown, f"not in .env.example (misspelled?): {unknown}"


# -- compose ------------------------------------------------------------------------------------


def test_compose_runs_the_service_and_the_engine_apart_with_keys_from_a_secret() -> None:
    services = compose()["services"]
    speech, engine = services["speech"], services["engine"]
    # ${NAME:-default} as compose resolves it with nothing exported
    env = {
        name: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for name, v in speech["environment"].items()
    }
    port = engine["command"][engine["command"].index("--port") + 1]
    assert env["SPEECH_ENGINE_URL"] == f"http://engine:{port}"
    assert engine["command"][0] == "engine" and speech["command"][0] == "serve"
    secret = env.pop("SPEECH_API_KEYS_FILE")
    assert secret == f"/run/secrets/{speech['secrets'][0]}"
    assert compose()["secrets"][speech["secrets"][0]]["file"].startswith("./secrets/")
    Settings.from_mapping(env)  # every value parses
    for service in (speech, engine):
        assert seconds(service["stop_grace_period"]) >= Settings().graceful_timeout + KILL_MARGIN
        assert service["read_only"] and "/tmp" in service["tmpfs"]
    assert speech["depends_on"]["engine"]["condition"] == "service_healthy"


def test_prometheus_is_optional_and_scrapes_metrics_with_a_key_from_the_secret() -> None:
    services = compose()["services"]
    assert services["prometheus"]["profiles"] == ["metrics"]
    mounted = services["prometheus"]["volumes"][0].split(":")
    assert (ROOT / mounted[0]).is_file()
    config = yaml.safe_load((ROOT / mounted[0]).read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"speech:{services['speech']['ports'][0].split(':')[-1]}"]
    assert job["authorization"]["credentials_file"] == "/run/secrets/" + services["prometheus"]["secrets"][0]
