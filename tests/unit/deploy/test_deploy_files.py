"""deploy/: every file parses, compose and Kubernetes manifests hang together, and the vLLM
arguments written there are the launch profile's own.

The Kubernetes check is structural (required fields per kind, selectors, probes, GPU requests,
HPA target). When `kubernetes_validate` is installed the manifests are also checked against the
real Kubernetes schemas.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_backend.profiles import build_command, load_profiles

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
# The one-GPU profile that compose and the Kubernetes vLLM Deployment serve.
GPU_PROFILE = "qwen35-35b-fp8-h100"


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    docs = load_all(DEPLOY / "docker-compose.yaml")
    assert len(docs) == 1
    return dict(docs[0])


def k8s_docs() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_all(path)
    ]


def profile_vllm_args() -> list[str]:
    # `vllm serve MODEL ...` minus `vllm serve`: what the image's entrypoint is given.
    return build_command(load_profiles()[GPU_PROFILE])[2:]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert load_all(path), f"{path} is empty"


def test_dashboards_are_json_with_panels() -> None:
    dashboards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert dashboards
    for path in dashboards:
        board = json.loads(path.read_text())
        assert board["uid"] and board["panels"]


# --- compose ---------------------------------------------------------------------------------


def test_compose_has_the_services() -> None:
    services = compose()["services"]
    assert {"junction", "redis", "vllm", "prometheus", "grafana", "otel-collector"} <= set(services)


def test_compose_vllm_reserves_an_nvidia_gpu_and_serves_the_profile() -> None:
    vllm = compose()["services"]["vllm"]
    assert vllm["image"].endswith("vllm/vllm-openai:v0.32.0}")
    assert "gpu" in vllm["profiles"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert vllm["command"] == profile_vllm_args()


SECRET_NAME = re.compile(r"(API_KEY|TOKEN|PASSWORD|SECRET)$")


def test_compose_takes_secrets_by_reference_only() -> None:
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:-[^}]*)?\}", str(value)), (name, key)
                assert "sk-" not in str(value)


def test_compose_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    build = compose()["services"]["junction"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not docker_compose_available(),
    reason="`docker compose version` does not work here (no docker or no compose plugin)",
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "docker-compose.yaml"), "--profile", "gpu",
         "config", "--quiet"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_runs_junction_unprivileged_on_8080() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "\nFROM python:3.11-slim" in text
    assert "EXPOSE 8080" in text and "USER 10001" in text
    assert 'CMD ["junction", "serve"]' in text
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        if copied != "README.md":  # the lead's; pyproject names it as the readme
            assert (ROOT / copied).exists(), copied


# --- Prometheus, Grafana, OTel collector -----------------------------------------------------


def test_prometheus_scrapes_junction_and_vllm() -> None:
    config = load_all(DEPLOY / "prometheus.yaml")[0]
    targets = {
        job["job_name"]: (job.get("metrics_path", "/metrics"), job["static_configs"][0]["targets"])
        for job in config["scrape_configs"]
    }
    assert targets["junction"] == ("/metrics", ["junction:8080"])
    assert targets["vllm"] == ("/metrics", ["vllm:8000"])


def test_dashboard_charts_junction_and_vllm_metrics() -> None:
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "junction.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for metric in (
        "junction_requests_total",
        "junction_request_duration_seconds_bucket",
        "junction_spillover_total",
        "junction_cost_usd_total",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket",
    ):
        assert metric in exprs, metric
    uids = {
        ds["uid"]
        for ds in load_all(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")[
            0
        ]["datasources"]
    }
    assert {p["datasource"]["uid"] for p in board["panels"]} <= uids
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_otel_collector_pipelines_use_defined_components() -> None:
    config = load_all(DEPLOY / "otel-collector.yaml")[0]
    for name, pipeline in config["service"]["pipelines"].items():
        for part in ("receivers", "processors", "exporters"):
            for component in pipeline.get(part, []):
                assert component in config[part], f"{name} uses undefined {part[:-1]} {component}"


# --- Kubernetes ------------------------------------------------------------------------------


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def k8s_problems(doc: dict[str, Any], all_docs: list[dict[str, Any]]) -> Iterator[str]:
    """Structural problems of one manifest: what `kubectl apply` or the cluster would refuse, or
    what would leave a workload unreachable."""
    kind = doc.get("kind")
    name = (doc.get("metadata") or {}).get("name")
    if not doc.get("apiVersion") or not kind or not name:
        yield f"{kind}/{name}: apiVersion, kind and metadata.name are required"
        return
    if kind == "Deployment":
        yield from deployment_problems(name, doc)
    elif kind == "Service":
        selector = doc["spec"].get("selector") or {}
        if not any(
            d["kind"] == "Deployment"
            and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in all_docs
        ):
            yield f"Service/{name}: selector {selector} matches no Deployment's pods"
        for port in doc["spec"]["ports"]:
            if "port" not in port:
                yield f"Service/{name}: a port without `port`"
    elif kind == "HorizontalPodAutoscaler":
        target = doc["spec"]["scaleTargetRef"]
        if not any(d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]
                   for d in all_docs):
            yield f"HPA/{name}: target {target['kind']}/{target['name']} does not exist"
        if doc["spec"]["minReplicas"] > doc["spec"]["maxReplicas"]:
            yield f"HPA/{name}: minReplicas > maxReplicas"
    elif kind == "PersistentVolumeClaim":
        spec = doc["spec"]
        if not spec.get("accessModes") or "storage" not in spec["resources"]["requests"]:
            yield f"PVC/{name}: accessModes and resources.requests.storage are required"
    elif kind == "ConfigMap" and not doc.get("data"):
        yield f"ConfigMap/{name}: no data"


def deployment_problems(name: str, doc: dict[str, Any]) -> Iterator[str]:
    selector = doc["spec"]["selector"]["matchLabels"]
    labels = doc["spec"]["template"]["metadata"]["labels"]
    if not selector.items() <= labels.items():
        yield f"Deployment/{name}: selector {selector} does not match template labels {labels}"
    volumes = {v["name"] for v in doc["spec"]["template"]["spec"].get("volumes", [])}
    for container in containers(doc):
        if not container.get("image"):
            yield f"Deployment/{name}: container {container.get('name')} has no image"
        ports = {p.get("name") for p in container.get("ports", [])} | {
            p["containerPort"] for p in container.get("ports", [])
        }
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container.get(probe_name) or {}
            check = probe.get("httpGet") or probe.get("tcpSocket")
            if check is not None and check["port"] not in ports:
                yield f"Deployment/{name}: {probe_name} uses port {check['port']} not in {ports}"
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                yield f"Deployment/{name}: volumeMount {mount['name']} has no volume"


def test_kubernetes_manifests_are_structurally_valid() -> None:
    docs = k8s_docs()
    problems = [p for doc in docs for p in k8s_problems(doc, docs)]
    assert problems == []


def test_the_structural_check_catches_mistakes() -> None:
    docs = k8s_docs()
    broken = json.loads(json.dumps(find("Deployment", "junction")))
    broken["spec"]["selector"]["matchLabels"] = {"app": "other"}
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 9999
    del broken["spec"]["template"]["spec"]["containers"][0]["image"]
    problems = list(k8s_problems(broken, docs))
    assert len(problems) == 3, problems
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "x"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "ghost"},
                    "minReplicas": 1, "maxReplicas": 2}}
    assert list(k8s_problems(hpa, docs)) == ["HPA/x: target Deployment/ghost does not exist"]


def find(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name)


def test_vllm_deployment_requests_a_gpu_probes_health_and_keeps_weights_on_a_pvc() -> None:
    deployment = find("Deployment", "vllm")
    (container,) = containers(deployment)
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert container["args"] == profile_vllm_args()
    claim = deployment["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert find("PersistentVolumeClaim", claim["claimName"])
    assert find("Service", "vllm")["spec"]["ports"][0]["port"] == 8000


def test_junction_deployment_replicas_probes_hpa_and_secret_references() -> None:
    deployment = find("Deployment", "junction")
    assert deployment["spec"]["replicas"] == 3
    (container,) = containers(deployment)
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    env = {e["name"]: e for e in container["env"]}
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        assert "value" not in env[key]
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "junction-api-keys"
    hpa = find("HorizontalPodAutoscaler", "junction")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "junction"
    assert find("Deployment", "redis") and find("Service", "redis") and find("Service", "junction")


def test_policy_configmap_is_the_default_policy() -> None:
    configmap = find("ConfigMap", "junction-policy")
    assert configmap["data"]["policy.yaml"] == (ROOT / "policies" / "default.yaml").read_text(), (
        "deploy/k8s/junction-policy.yaml is stale; regenerate it with the command in its header"
    )


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_manifests_pass_the_kubernetes_schemas() -> None:
    validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed (pip install it)"
    )
    for doc in k8s_docs():
        validate.validate(doc, "1.33.0", strict=True)


def test_k8s_grace_period_outlasts_junctions_shutdown_grace() -> None:
    from router.settings import Settings

    [deployment] = [d for d in k8s_docs()
                    if d.get("kind") == "Deployment" and d["metadata"]["name"] == "junction"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == "junction"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    grace = float(env.get("JUNCTION_SHUTDOWN_GRACE_S") or Settings().shutdown_grace_s)
    assert pod["terminationGracePeriodSeconds"] >= grace + 5
