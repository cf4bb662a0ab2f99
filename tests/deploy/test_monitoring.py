"""deploy/k8s/components/monitoring, rendered onto each overlay (the overlays leave it out: its
PodMonitor and PrometheusRule need the Prometheus Operator's CRDs, whose schemas are not in
../shared/k8s-schemas). Core objects are validated strictly like the overlays'; the operator's
objects get a structural check, and every metric they name must be one the code defines."""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
MONITORING = K8S / "components" / "monitoring"
OVERLAYS = ["local", "production"]
# Deployment -> the setting that turns its metrics endpoint on.
METRICS_SETTINGS = {
    "models": "MODELS_METRICS_PORT",
    "generation": "GENERATION_METRICS_PORT",
    "generation-worker": "GENERATION_WORKER_METRICS_PORT",
    "credits": "CREDITS_METRICS_PORT",
    "storage": "STORAGE_METRICS_PORT",
    "webhook-delivery": "GATEWAY_WEBHOOK_DELIVERY_METRICS_PORT",
}
OPERATOR_KINDS = {("monitoring.coreos.com/v1", "PodMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}


def render_with_monitoring(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/k8s"
    # As an overlay would use it: a copy of the overlay, at the same depth so its relative paths
    # hold, with the component added to its components.
    root = Path(tempfile.mkdtemp(prefix=".render-monitoring-", dir=K8S))
    try:
        copy = root / overlay
        shutil.copytree(K8S / "overlays" / overlay, copy)
        kustomization = yaml.safe_load((copy / "kustomization.yaml").read_text())
        kustomization["components"] = [*kustomization.get("components", []), "../../components/monitoring"]
        (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        result = subprocess.run(
            [kubectl, "kustomize", str(copy)], capture_output=True, text=True, check=False
        )
    finally:
        shutil.rmtree(root)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def defined_metrics() -> set[str]:
    """Every Prometheus metric name the code defines, as exposed (counters gain `_total`)."""
    names = set()
    sources = [*REPO.glob("libs/*/src/**/*.py"), *REPO.glob("services/*/src/**/*.py")]
    pattern = re.compile(r'(Counter|Gauge|Histogram)\(\s*"(imagegen_[a-z_]+)"')
    for source in sources:
        for kind, name in pattern.findall(source.read_text()):
            names.add(f"{name}_total" if kind == "Counter" else name)
            if kind == "Histogram":
                names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    return names


def metrics_named(expr: str) -> set[str]:
    return set(re.findall(r"\b(imagegen_[a-z_]+)", expr))


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", ["1.30", latest_version()])
def test_core_objects_stay_valid_with_monitoring(overlay: str, version: str) -> None:
    for obj in render_with_monitoring(overlay):
        if (obj["apiVersion"], obj["kind"]) in OPERATOR_KINDS or obj["apiVersion"].startswith(
            ("keda.sh/", "postgresql.cnpg.io/")
        ):
            continue
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_exposes_metrics_where_a_pod_monitor_scrapes(overlay: str) -> None:
    objects = render_with_monitoring(overlay)
    deployments = by_kind(objects, "Deployment")
    monitors = by_kind(objects, "PodMonitor")
    scraped: dict[str, str] = {}
    for monitor in monitors.values():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        selector = monitor["spec"]["selector"]
        names = set(selector.get("matchLabels", {}).values())
        for expression in selector.get("matchExpressions", []):
            names.update(expression["values"])
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["path"] == "/metrics"
        scraped.update({name: endpoint["port"] for name in names})
    assert set(scraped) == {"gateway", *METRICS_SETTINGS}
    for name, port_name in scraped.items():
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert port_name in ports, name
        if name != "gateway":
            env = {item["name"]: item.get("value") for item in container["env"]}
            assert env[METRICS_SETTINGS[name]] == str(ports[port_name]), name
    policy = by_kind(objects, "NetworkPolicy")["prometheus-scrape"]
    allowed = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert {9090, 8080} <= allowed


def test_the_settings_accept_the_metrics_ports() -> None:
    from imagegen_generation.config import GenerationSettings

    settings = GenerationSettings(
        database_url="postgresql+asyncpg://x/y",
        models_addr="m:1",
        credits_addr="c:1",
        storage_addr="s:1",
        fal_key="k",
        webhook_base_url="http://gateway",
        metrics_port=9090,
        worker_metrics_port=9091,
    )
    assert (settings.metrics_port, settings.worker_metrics_port) == (9090, 9091)


def test_alerts_cover_jobs_queue_webhooks_and_the_ledger_with_metrics_that_exist() -> None:
    [rule] = by_kind(render_with_monitoring("production"), "PrometheusRule").values()
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {
        "ImagegenJobFailureRateHigh",
        "ImagegenQueueAgeGrowing",
        "ImagegenWebhookDeliveriesFailing",
        "ImagegenLedgerCheckFailed",
    } <= set(alerts)
    known = defined_metrics()
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] and alert["annotations"]["summary"], name
        assert metrics_named(alert["expr"]) <= known, (name, metrics_named(alert["expr"]) - known)
    # The ledger alert watches the CronJob that runs the check.
    assert "ledger-check" in alerts["ImagegenLedgerCheckFailed"]["expr"]


def test_the_ledger_check_cronjob_runs_check_ledger_with_the_credits_image() -> None:
    objects = render_with_monitoring("production")
    cronjob = by_kind(objects, "CronJob")["ledger-check"]
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    [deployed] = by_kind(objects, "Deployment")["credits"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["check-ledger"]
    assert container["image"] == deployed["image"]
    assert {item["name"] for item in container["env"]} >= {"CREDITS_DATABASE_URL"}


def test_the_dashboard_is_grafana_json_whose_queries_use_metrics_that_exist() -> None:
    objects = render_with_monitoring("production")
    config_map = by_kind(objects, "ConfigMap")["imagegen-dashboard"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["imagegen.json"])
    assert dashboard["uid"] and dashboard["panels"]
    known = defined_metrics()
    used = {
        name for panel in dashboard["panels"] for t in panel["targets"] for name in metrics_named(t["expr"])
    }
    assert used and used <= known, used - known
    assert {"imagegen_provider_calls_total", "imagegen_credits_moved_total", "imagegen_jobs"} <= used
