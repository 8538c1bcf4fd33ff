"""Checks on what casework ships to Kubernetes: the Kustomize overlays under
deploy/overlays/ and the root Dockerfile.

Every overlay is rendered with `kubectl kustomize` (offline) and checked
against the suite's process contract: 6 services x {api, events}, each with
the right command, probes, resources, security, env, Service, HPA, PDB and
NetworkPolicies. kubectl is required: without it these tests fail, they do
not skip. Set KUBECTL=/path/to/kubectl if it is not on PATH.

Run from the repo root:  pytest -q --import-mode=importlib tests/deploy
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS_DIR = DEPLOY / "overlays"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SECRET_EXAMPLES = DEPLOY / "base" / "secrets"
NAMESPACE_DIR = DEPLOY / "namespace"

SERVICES = ("intake", "clients", "plans", "documents", "notify", "feedback")
PROCESSES = ("api", "events")
SERVICE_PROCESSES = [(svc, proc) for svc in SERVICES for proc in PROCESSES]

IMAGE = "ghcr.io/casework/casework"
# One Secret per service, created out of band (deploy/base/secrets/<service>.example.env).
SECRET_PREFIX = "casework-"
# Site data (staff names, e-mails) created out of band like the Secret; see deploy/README.md.
ORGANISATION_CONFIGMAP = "casework-organisation"
# The identity provider's public keys, also site data created out of band.
JWKS_CONFIGMAP = "casework-jwks"
OUT_OF_BAND_CONFIGMAPS = {ORGANISATION_CONFIGMAP, JWKS_CONFIGMAP}
GRPC_PORT, METRICS_PORT, HEALTH_PORT, PUBLIC_PORT = 50051, 9464, 8000, 8080
# feedback-events' public mini-survey port (kiosk, survey links) and the prefix its
# routes live under (services/feedback/casework_feedback/entrypoints/events.py).
FEEDBACK_PUBLIC_PORT = 8110
FEEDBACK_PUBLIC_ROUTES = (
    REPO / "services" / "feedback" / "casework_feedback" / "entrypoints" / "events.py"
)
PYTHONPATH = (
    "/app/lib:/app/gen:/app/services/intake:/app/services/clients:/app/services/plans"
    ":/app/services/documents:/app/services/notify:/app/services/feedback"
)
# Every variable the processes read (CASEWORK_ENV=production fails fast on a missing one).
ENV_CONTRACT = {
    "CASEWORK_ENV",
    "AMQP_URI",
    "MONGO_URI",
    "MONGO_DB",
    "S3_ENDPOINT",
    "S3_BUCKET",
    "SMTP_HOST",
    "SMTP_PORT",
    "JWT_JWKS_FILE",
    "JWT_AUDIENCE",
    "BIND_HOST",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "LOG_LEVEL",
    "GRPC_PORT",
    "METRICS_PORT",
    "HEALTH_PORT",
}
# What each service reads from its own Secret, and nothing more.
SECRET_ENV = {
    svc: {
        "AMQP_URI",
        "MONGO_URI",
        *({"S3_ACCESS_KEY", "S3_SECRET_KEY"} if svc == "documents" else ()),
        *({"INTAKE_SELF_FILL_SECRET"} if svc == "intake" else ()),
        *({"FEEDBACK_LINK_SECRET"} if svc == "feedback" else ()),
    }
    for svc in SERVICES
}
SUITE_LABELS = {"app.kubernetes.io/name": "casework", "app.kubernetes.io/part-of": "casework"}
PARTNER_NS = {"casework.io/partner-gateway": "true"}
MONITORING_NS = {"casework.io/monitoring": "true"}

OVERLAYS = (
    sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file())
    if OVERLAYS_DIR.is_dir()
    else []
)


# --------------------------------------------------------------- rendering --


def _kubectl() -> str:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl or not os.access(kubectl, os.X_OK):
        pytest.fail(
            "kubectl is required to render deploy/overlays (it runs kustomize offline) but was "
            f"not found{f' at KUBECTL={kubectl}' if kubectl else ' on PATH'}. Install kubectl "
            "or set KUBECTL=/path/to/kubectl.",
            pytrace=False,
        )
    return kubectl


@functools.cache
def _render_text(directory: Path) -> str:
    proc = subprocess.run(
        [_kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"`kubectl kustomize {directory}` failed:\n{proc.stderr}", pytrace=False)
    return proc.stdout


def render(overlay: str) -> list[dict]:
    """Render deploy/overlays/<overlay> (or any path relative to it, e.g. "../base")."""
    return [
        doc for doc in yaml.safe_load_all(_render_text((OVERLAYS_DIR / overlay).resolve())) if doc
    ]


# ----------------------------------------------------------------- helpers --


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def pod_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"].get("labels", {})


def app_container(deployment: dict) -> dict:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: expected one container"
    return containers[0]


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels + matchExpressions)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def container_port(container: dict, port: int | str) -> int:
    """Resolve a probe/Service port (number or container port name) to a number."""
    if isinstance(port, int):
        return port
    if str(port).isdigit():
        return int(port)
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"port name {port!r} not declared by container {container['name']}"
    return named[port]


_QUANTITY = {
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value: str | int | float) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match and match[2] in _QUANTITY, f"unparseable resource quantity {value!r}"
    return float(match[1]) * _QUANTITY[match[2]]


def python_module_invocation(argv: list[str]) -> tuple[str, list[str]]:
    """`... python -m casework_x api` -> ("casework_x", ["api"])."""
    assert "-m" in argv, f"not a `python -m` command: {argv}"
    i = argv.index("-m")
    assert i + 1 < len(argv), f"`-m` without a module: {argv}"
    return argv[i + 1], argv[i + 2 :]


def container_env(docs: list[dict], container: dict) -> dict[str, object]:
    """What a container sees: ConfigMap envFrom values, then env (value, or its valueFrom)."""
    configmaps = by_kind(docs, "ConfigMap")
    env: dict[str, object] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]].get("data", {}))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def hpa_by_target(docs: list[dict]) -> dict[str, dict]:
    return {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in by_kind(docs, "HorizontalPodAutoscaler").values()
    }


def env_file_keys(path: Path) -> set[str]:
    return {
        line.split("=", 1)[0].strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "=" in line
    }


# ----------------------------------------------- NetworkPolicy evaluation --


@dataclass
class Peer:
    """Where traffic comes from: a pod (same namespace or not) in a namespace."""

    namespace_labels: dict = field(default_factory=dict)
    pod_labels: dict = field(default_factory=dict)
    same_namespace: bool = False


def ingress_allowed(policies: list[dict], target_labels: dict, port: int, peer: Peer) -> bool:
    selecting = [
        p
        for p in policies
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and selector_matches(p["spec"].get("podSelector"), target_labels)
    ]
    if not selecting:
        return True  # not isolated

    def peer_matches(rule_peer: dict) -> bool:
        if "ipBlock" in rule_peer:
            return False
        ns_sel, pod_sel = rule_peer.get("namespaceSelector"), rule_peer.get("podSelector")
        ns_ok = (
            selector_matches(ns_sel, peer.namespace_labels)
            if ns_sel is not None
            else peer.same_namespace
        )
        pod_ok = selector_matches(pod_sel, peer.pod_labels) if pod_sel is not None else True
        return ns_ok and pod_ok

    def port_matches(rule_ports: list[dict] | None) -> bool:
        return not rule_ports or any(
            p.get("protocol", "TCP") == "TCP" and (p.get("port") is None or p["port"] == port)
            for p in rule_ports
        )

    return any(
        (not rule.get("from") or any(peer_matches(f) for f in rule["from"]))
        and port_matches(rule.get("ports"))
        for p in selecting
        for rule in p["spec"].get("ingress") or []
    )


# ---------------------------------------------------------- Dockerfile ----


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for the whole Dockerfile, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def dockerfile_final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM")
    return instructions[last_from:]


def dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins, args in stage:
        if ins == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), (
        f"not exec form: {args}"
    )
    return value


# ------------------------------------------------------------------ tests --

overlays = pytest.mark.parametrize("overlay", OVERLAYS)


def test_small_and_large_network_overlays_exist():
    assert {"small-network", "large-network"} <= set(OVERLAYS), f"overlays found: {OVERLAYS}"


@overlays
def test_every_service_process_has_a_deployment_with_probes(overlay):
    deployments = by_kind(render(overlay), "Deployment")
    assert set(deployments) == {f"{s}-{p}" for s, p in SERVICE_PROCESSES}

    for svc, proc in SERVICE_PROCESSES:
        container = app_container(deployments[f"{svc}-{proc}"])
        where = f"{overlay}/{svc}-{proc}"
        declared = {p["containerPort"] for p in container.get("ports", [])}
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(kind)
            if kind == "startupProbe" and probe is None:
                continue
            assert probe, f"{where}: no {kind}"
            if proc == "api":
                assert "grpc" in probe and "httpGet" not in probe, (
                    f"{where}: {kind} must be a native grpc probe"
                )
                assert probe["grpc"]["port"] == GRPC_PORT, f"{where}: {kind} not on {GRPC_PORT}"
                # Liveness asks the name that ignores dependencies; the others ask "".
                expected_service = "liveness" if kind == "livenessProbe" else ""
                assert probe["grpc"].get("service", "") == expected_service, f"{where}: {kind}"
            else:
                assert "httpGet" in probe and "grpc" not in probe, (
                    f"{where}: {kind} must be httpGet"
                )
                expected_path = "/livez" if kind == "livenessProbe" else "/healthz"
                assert probe["httpGet"]["path"] == expected_path, f"{where}: {kind} path"
                assert container_port(container, probe["httpGet"]["port"]) == HEALTH_PORT, (
                    f"{where}: {kind} port"
                )
        expected_ports = {GRPC_PORT, METRICS_PORT} if proc == "api" else {HEALTH_PORT}
        assert expected_ports <= declared, f"{where}: container ports {declared}"


@overlays
def test_deployments_carry_the_suite_labels_and_select_only_their_own_pods(overlay):
    deployments = by_kind(render(overlay), "Deployment")
    for name, dep in deployments.items():
        expected = {**SUITE_LABELS, "app.kubernetes.io/component": name}
        for where, labels in (
            ("metadata", dep["metadata"].get("labels", {})),
            ("pod template", pod_labels(dep)),
        ):
            assert expected.items() <= labels.items(), f"{overlay}/{name}: {where} labels {labels}"
        selector = dep["spec"]["selector"]
        assert selector_matches(selector, pod_labels(dep)), (
            f"{overlay}/{name}: selector misses its pods"
        )
        others = [
            o
            for o, d in deployments.items()
            if o != name and selector_matches(selector, pod_labels(d))
        ]
        assert not others, f"{overlay}/{name}: selector also matches {others}"


@overlays
def test_every_deployment_runs_its_own_service_and_process(overlay):
    deployments = by_kind(render(overlay), "Deployment")
    for svc, proc in SERVICE_PROCESSES:
        container = app_container(deployments[f"{svc}-{proc}"])
        # Only args are overridden, so the image ENTRYPOINT (tini, PID 1) stays in place.
        assert "command" not in container, f"{overlay}/{svc}-{proc}: override `args`, not `command`"
        argv = container.get("args", [])
        assert argv[:2] == ["python", "-m"], f"{overlay}/{svc}-{proc}: args {argv}"
        assert python_module_invocation(argv) == (f"casework_{svc}", [proc]), (
            f"{overlay}/{svc}-{proc}: args {argv}"
        )


@overlays
def test_every_container_has_resource_requests_within_limits(overlay):
    for name, dep in by_kind(render(overlay), "Deployment").items():
        resources = app_container(dep).get("resources", {})
        for res in ("cpu", "memory"):
            request = resources.get("requests", {}).get(res)
            limit = resources.get("limits", {}).get(res)
            assert request and limit, f"{overlay}/{name}: {res} request/limit missing: {resources}"
            assert quantity(request) <= quantity(limit), f"{overlay}/{name}: {res} request > limit"


@overlays
def test_every_pod_runs_non_root_with_read_only_root_and_no_capabilities(overlay):
    for name, dep in by_kind(render(overlay), "Deployment").items():
        spec, container = pod_spec(dep), app_container(dep)
        pod_sc, sc = spec.get("securityContext", {}), container.get("securityContext", {})
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, (
            f"{overlay}/{name}: runAsNonRoot"
        )
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        assert isinstance(uid, int) and uid > 0, (
            f"{overlay}/{name}: runAsUser must be a non-zero UID"
        )
        assert sc.get("readOnlyRootFilesystem") is True, f"{overlay}/{name}: readOnlyRootFilesystem"
        assert sc.get("allowPrivilegeEscalation") is False, (
            f"{overlay}/{name}: allowPrivilegeEscalation"
        )
        caps = sc.get("capabilities", {})
        assert "ALL" in caps.get("drop", []) and not caps.get("add"), (
            f"{overlay}/{name}: capabilities {caps}"
        )
        assert spec.get("automountServiceAccountToken") is False, (
            f"{overlay}/{name}: SA token mounted"
        )
        volumes = {v["name"] for v in spec.get("volumes", [])}
        mounts = {m["name"] for m in container.get("volumeMounts", [])}
        assert mounts <= volumes, f"{overlay}/{name}: mounts {mounts - volumes} have no volume"
        assert any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", [])), (
            f"{overlay}/{name}: read-only root needs a writable /tmp"
        )


@overlays
def test_every_pod_shuts_down_gracefully_within_30_seconds(overlay):
    for name, dep in by_kind(render(overlay), "Deployment").items():
        spec = pod_spec(dep)
        assert spec.get("terminationGracePeriodSeconds") == 30, f"{overlay}/{name}"
        pre_stop = app_container(dep).get("lifecycle", {}).get("preStop", {})
        command = pre_stop.get("exec", {}).get("command", [])
        if command[:1] == ["sleep"]:
            assert int(command[1]) < 30, f"{overlay}/{name}: preStop eats the whole grace period"


@overlays
def test_env_references_resolve_to_rendered_configmap_or_casework_secrets(overlay):
    docs = render(overlay)
    configmaps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")

    def secret_has(name: str, key: str | None) -> bool:
        example = SECRET_EXAMPLES / f"{name.removeprefix(SECRET_PREFIX)}.example.env"
        if name.startswith(SECRET_PREFIX) and name not in secrets and example.is_file():
            # created out of band, documented by the example
            return key is None or key in env_file_keys(example)
        return name in secrets and (
            key is None
            or key in {**secrets[name].get("data", {}), **secrets[name].get("stringData", {})}
        )

    for name, dep in by_kind(docs, "Deployment").items():
        container = app_container(dep)
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps, f"{overlay}/{name}: {source}"
            if "secretRef" in source:
                assert secret_has(source["secretRef"]["name"], None), f"{overlay}/{name}: {source}"
        for env in container.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                cm = configmaps.get(ref["configMapKeyRef"]["name"])
                assert cm and ref["configMapKeyRef"]["key"] in cm.get("data", {}), (
                    f"{overlay}/{name}: {env}"
                )
            if "secretKeyRef" in ref:
                key_ref = ref["secretKeyRef"]
                assert secret_has(key_ref["name"], key_ref["key"]), f"{overlay}/{name}: {env}"
        for volume in pod_spec(dep).get("volumes", []):
            if "configMap" in volume:
                cm_name = volume["configMap"]["name"]
                assert cm_name in configmaps or cm_name in OUT_OF_BAND_CONFIGMAPS, (
                    f"{overlay}/{name}: volume {volume} names no rendered ConfigMap"
                )
            if "secret" in volume:
                assert secret_has(volume["secret"]["secretName"], None), (
                    f"{overlay}/{name}: {volume}"
                )


@overlays
def test_organisation_file_is_mounted_from_its_configmap(overlay):
    docs = render(overlay)
    for name, dep in by_kind(docs, "Deployment").items():
        container = app_container(dep)
        path = Path(str(container_env(docs, container).get("CASEWORK_ORGANISATION_FILE", "")))
        volumes = {
            v["name"]: v["configMap"] for v in pod_spec(dep).get("volumes", []) if "configMap" in v
        }
        mounts = [
            m
            for m in container.get("volumeMounts", [])
            if volumes.get(m["name"], {}).get("name") == ORGANISATION_CONFIGMAP
        ]
        assert any(path.parent == Path(m["mountPath"]) for m in mounts), (
            f"{overlay}/{name}: CASEWORK_ORGANISATION_FILE={path} is not in a mount of "
            f"ConfigMap {ORGANISATION_CONFIGMAP}"
        )
        assert path.name == "organisation.json", (
            f"{overlay}/{name}: documented key is organisation.json"
        )


@overlays
def test_every_process_gets_the_whole_environment_contract(overlay):
    docs = render(overlay)
    deployments = by_kind(docs, "Deployment")
    for svc, proc in SERVICE_PROCESSES:
        values = container_env(docs, app_container(deployments[f"{svc}-{proc}"]))
        where = f"{overlay}/{svc}-{proc}"
        assert set(values) >= ENV_CONTRACT, f"{where}: missing {sorted(ENV_CONTRACT - set(values))}"
        own = f"{SECRET_PREFIX}{svc}"
        from_secrets = {
            name: ref["secretKeyRef"]
            for name, ref in values.items()
            if isinstance(ref, dict) and "secretKeyRef" in ref
        }
        assert set(from_secrets) == SECRET_ENV[svc], (
            f"{where}: reads secrets {sorted(from_secrets)}"
        )
        assert {ref["name"] for ref in from_secrets.values()} == {own}, (
            f"{where}: secrets must come from its own Secret {own}: {from_secrets}"
        )
        assert "JWT_SECRET" not in values, f"{where}: a shared signing secret is gone"
        assert values["CASEWORK_ENV"] == "production", where
        assert values["BIND_HOST"] == "0.0.0.0", f"{where}: must listen on the pod's address"
        assert values["MONGO_DB"] == f"casework_{svc}", where
        assert values["OTEL_SERVICE_NAME"] == f"casework-{svc}-{proc}", where
        ports = {"GRPC_PORT": GRPC_PORT, "METRICS_PORT": METRICS_PORT, "HEALTH_PORT": HEALTH_PORT}
        assert {k: int(values[k]) for k in ports} == ports, (
            f"{where}: ports disagree with probes/Services"
        )


@pytest.mark.parametrize("svc", SERVICES)
def test_each_services_secret_example_documents_exactly_the_keys_its_pods_read(svc):
    read = {
        env["valueFrom"]["secretKeyRef"]["key"]
        for overlay in OVERLAYS
        for dep in by_kind(render(overlay), "Deployment").values()
        for env in app_container(dep).get("env", [])
        if env.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == f"{SECRET_PREFIX}{svc}"
    }
    example = SECRET_EXAMPLES / f"{svc}.example.env"
    assert read == env_file_keys(example) == SECRET_ENV[svc]
    text = example.read_text()
    # Its own broker user (topic permissions on <svc>.#) and database user.
    assert f"AMQP_URI=amqps://casework-{svc}:" in text, text
    assert f"MONGO_URI=mongodb://casework-{svc}:" in text, text
    assert f"authSource=casework_{svc}" in text, text


def test_every_secret_example_names_its_own_users_and_no_other_services():
    examples = sorted(p.name for p in SECRET_EXAMPLES.glob("*.example.env"))
    assert examples == sorted(f"{svc}.example.env" for svc in SERVICES)
    for svc in SERVICES:
        text = (SECRET_EXAMPLES / f"{svc}.example.env").read_text()
        others = [o for o in SERVICES if o != svc and f"casework-{o}:" in text]
        assert not others, f"{svc}: holds credentials of {others}"


@pytest.mark.parametrize("overlay", [*OVERLAYS, "../base"])
def test_no_secret_values_are_rendered(overlay):
    secrets = by_kind(render(overlay), "Secret")
    assert not secrets, f"{overlay}: renders Secrets {sorted(secrets)}; create them out of band"


@overlays
def test_everything_lives_in_the_casework_namespace(overlay):
    stray = [
        f"{d['kind']}/{d['metadata']['name']}"
        for d in render(overlay)
        if d["metadata"].get("namespace") != "casework"
    ]
    assert not stray, f"{overlay}: not in namespace casework: {stray}"


@overlays
def test_every_api_has_a_service_exposing_grpc_and_metrics(overlay):
    docs = render(overlay)
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    for svc in SERVICES:
        name = f"{svc}-api"
        assert name in services, f"{overlay}: no Service {name}"
        service, container = services[name], app_container(deployments[name])
        selected = [
            d
            for d, dep in deployments.items()
            if selector_matches(
                {"matchLabels": service["spec"].get("selector", {})}, pod_labels(dep)
            )
        ]
        assert selected == [name], f"{overlay}/{name}: Service selects {selected}"
        ports = {p.get("name"): p for p in service["spec"]["ports"]}
        for port_name, number in (("grpc", GRPC_PORT), ("metrics", METRICS_PORT)):
            assert port_name in ports, f"{overlay}/{name}: Service has no {port_name} port"
            port = ports[port_name]
            assert port["port"] == number, f"{overlay}/{name}: {port}"
            assert container_port(container, port.get("targetPort", port["port"])) == number, (
                f"{overlay}/{name}: {port}"
            )


@overlays
def test_deployments_leave_their_replica_count_to_the_hpa(overlay):
    with_replicas = [
        n for n, d in by_kind(render(overlay), "Deployment").items() if "replicas" in d["spec"]
    ]
    assert not with_replicas, (
        f"{overlay}: spec.replicas would fight the HPA on every apply: {with_replicas}"
    )


@overlays
def test_every_deployment_has_one_cpu_hpa_targeting_it(overlay):
    docs = render(overlay)
    deployments, hpas = (
        by_kind(docs, "Deployment"),
        list(by_kind(docs, "HorizontalPodAutoscaler").values()),
    )
    targets = [h["spec"]["scaleTargetRef"]["name"] for h in hpas]
    assert sorted(targets) == sorted(deployments), f"{overlay}: HPA targets {sorted(targets)}"
    for hpa in hpas:
        name, spec = hpa["metadata"]["name"], hpa["spec"]
        assert hpa["apiVersion"] == "autoscaling/v2", f"{overlay}/{name}"
        assert spec["scaleTargetRef"]["kind"] == "Deployment", f"{overlay}/{name}"
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"], f"{overlay}/{name}: {spec}"
        assert any(
            m["type"] == "Resource"
            and m["resource"]["name"] == "cpu"
            and m["resource"]["target"]["type"] == "Utilization"
            for m in spec.get("metrics", [])
        ), f"{overlay}/{name}: no CPU utilisation metric"


@overlays
def test_no_pdb_lets_a_drain_take_a_process_away_nor_blocks_the_drain(overlay):
    """At the HPA floor, a drain may evict at least one pod of every process (or it
    hangs forever) and must leave at least one serving (or the process is gone until
    rescheduled): so no process may run a single replica."""
    docs = render(overlay)
    hpas = hpa_by_target(docs)
    deployments = by_kind(docs, "Deployment")
    for name, pdb in by_kind(docs, "PodDisruptionBudget").items():
        spec = pdb["spec"]
        (target,) = [
            d
            for d, dep in deployments.items()
            if selector_matches(spec["selector"], pod_labels(dep))
        ]
        floor = hpas[target]["spec"]["minReplicas"]
        if "maxUnavailable" in spec:
            evictable = spec["maxUnavailable"]
        else:
            evictable = floor - spec["minAvailable"]
        assert isinstance(evictable, int), f"{overlay}/{name}: whole numbers keep this checkable"
        assert evictable >= 1, f"{overlay}/{name}: blocks every drain at {floor} replicas"
        assert floor - evictable >= 1, (
            f"{overlay}/{name}: a drain may evict all {floor} pod(s) of {target}"
        )


@overlays
def test_every_deployment_has_one_pdb_that_still_allows_a_node_drain(overlay):
    docs = render(overlay)
    deployments, hpas = by_kind(docs, "Deployment"), hpa_by_target(docs)
    covered: list[str] = []
    for name, pdb in by_kind(docs, "PodDisruptionBudget").items():
        spec = pdb["spec"]
        assert pdb["apiVersion"] == "policy/v1", f"{overlay}/{name}"
        assert ("minAvailable" in spec) != ("maxUnavailable" in spec), (
            f"{overlay}/{name}: exactly one of min/max"
        )
        selected = [
            d
            for d, dep in deployments.items()
            if selector_matches(spec["selector"], pod_labels(dep))
        ]
        assert len(selected) == 1, f"{overlay}/{name}: selects {selected}"
        covered += selected
        min_replicas = hpas[selected[0]]["spec"]["minReplicas"]
        if isinstance(spec.get("minAvailable"), int):
            assert spec["minAvailable"] < min_replicas, (
                f"{overlay}/{name}: blocks every eviction at {min_replicas} replicas"
            )
        if isinstance(spec.get("maxUnavailable"), int):
            assert spec["maxUnavailable"] >= 1, f"{overlay}/{name}: blocks every eviction"
    assert sorted(covered) == sorted(deployments), f"{overlay}: PDBs cover {sorted(covered)}"


@overlays
def test_network_policies_deny_by_default_and_admit_only_suite_partner_and_monitoring_traffic(
    overlay,
):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    assert any(
        p["spec"].get("podSelector") == {}
        and "Ingress" in p["spec"].get("policyTypes", [])
        and not p["spec"].get("ingress")
        for p in policies
    ), f"{overlay}: no default-deny ingress policy"

    deployments = by_kind(docs, "Deployment")
    peers = {
        "a casework pod": Peer(
            {"kubernetes.io/metadata.name": "casework"},
            pod_labels(deployments["plans-events"]),
            True,
        ),
        "a stray pod in casework": Peer(
            {"kubernetes.io/metadata.name": "casework"}, {"app": "debug"}, True
        ),
        "the partner gateway": Peer(
            {**PARTNER_NS, "kubernetes.io/metadata.name": "ingress"}, {"app": "gateway"}
        ),
        "monitoring": Peer(
            {**MONITORING_NS, "kubernetes.io/metadata.name": "monitoring"}, {"app": "prometheus"}
        ),
        "another namespace": Peer(
            {"kubernetes.io/metadata.name": "elsewhere"}, {"app": "whatever"}
        ),
    }
    # (port, from, allowed?) per process
    expected = {
        "api": [
            (GRPC_PORT, "a casework pod", True),
            (GRPC_PORT, "the partner gateway", True),
            (GRPC_PORT, "a stray pod in casework", False),
            (GRPC_PORT, "monitoring", False),
            (GRPC_PORT, "another namespace", False),
            (METRICS_PORT, "monitoring", True),
            (METRICS_PORT, "the partner gateway", False),
            (METRICS_PORT, "another namespace", False),
        ],
        "events": [
            (HEALTH_PORT, "monitoring", True),
            (HEALTH_PORT, "a casework pod", False),
            (HEALTH_PORT, "the partner gateway", False),
            (HEALTH_PORT, "another namespace", False),
            (GRPC_PORT, "a casework pod", False),
            (GRPC_PORT, "the partner gateway", False),
        ],
    }
    for svc, proc in SERVICE_PROCESSES:
        labels = pod_labels(deployments[f"{svc}-{proc}"])
        wrong = [
            f"port {port} from {peer}: {'denied' if allowed else 'allowed'}"
            for port, peer, allowed in expected[proc]
            if ingress_allowed(policies, labels, port, peers[peer]) != allowed
        ]
        assert not wrong, f"{overlay}/{svc}-{proc}: {wrong}"


@overlays
def test_every_container_uses_the_release_image_with_a_pinned_tag(overlay):
    for name, dep in by_kind(render(overlay), "Deployment").items():
        image = app_container(dep)["image"]
        repo, sep, tag = image.partition("@") if "@" in image else image.rpartition(":")
        assert repo == IMAGE and sep and tag and tag != "latest", f"{overlay}/{name}: image {image}"


def test_large_network_has_more_replicas_and_resources_than_small_network():
    small, large = render("small-network"), render("large-network")
    small_hpa, large_hpa = hpa_by_target(small), hpa_by_target(large)
    small_dep, large_dep = by_kind(small, "Deployment"), by_kind(large, "Deployment")
    for name in small_dep:
        lo, hi = small_hpa[name]["spec"], large_hpa[name]["spec"]
        assert hi["minReplicas"] >= lo["minReplicas"] and hi["maxReplicas"] > lo["maxReplicas"], (
            f"{name}: {lo} vs {hi}"
        )
        lo_res, hi_res = (
            app_container(small_dep[name])["resources"],
            app_container(large_dep[name])["resources"],
        )
        for tier in ("requests", "limits"):
            for res in ("cpu", "memory"):
                assert quantity(hi_res[tier][res]) > quantity(lo_res[tier][res]), (
                    f"{name}: {tier}.{res}"
                )


def test_overlay_sizing_matches_the_operations_guide():
    small, large = render("small-network"), render("large-network")
    for name, hpa in hpa_by_target(small).items():
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 3), (
            f"small-network/{name}"
        )
    busiest = {"intake-api", "clients-api", "notify-api"}
    large_pdbs = by_kind(large, "PodDisruptionBudget")
    for name, hpa in hpa_by_target(large).items():
        bounds = (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
        if name in busiest:
            assert bounds == (3, 20), f"large-network/{name}: {bounds}"
            assert large_pdbs[name]["spec"].get("minAvailable") == 2, f"large-network/{name}"
        elif name.endswith("-api"):
            assert bounds[0] == 3, f"large-network/{name}: {bounds}"
        else:
            assert bounds == (2, 10), f"large-network/{name}: {bounds}"


def test_dockerfile_default_command_names_a_real_service_process():
    stage = dockerfile_final_stage()
    cmds = [args for ins, args in stage if ins == "CMD"]
    assert cmds, "Dockerfile final stage has no CMD"
    argv = exec_form(cmds[-1])
    module, rest = python_module_invocation(argv)
    svc = module.removeprefix("casework_")
    assert module.startswith("casework_") and svc in SERVICES, f"CMD runs {module}"
    assert (REPO / "services" / svc / module).is_dir(), (
        f"CMD runs {module}, but services/{svc}/{module}/ is missing"
    )
    assert rest == [rest[0]] and rest[0] in PROCESSES, (
        f"CMD process {rest} is not one of {PROCESSES}"
    )
    entrypoints = [args for ins, args in stage if ins == "ENTRYPOINT"]
    if entrypoints:
        assert "casework_" not in entrypoints[-1], (
            "ENTRYPOINT must not pin a service: Deployments override args"
        )


def test_dockerfile_builds_one_non_root_image_with_the_contract_pythonpath():
    instructions = dockerfile_instructions()
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert len(froms) >= 2, "Dockerfile must be multi-stage"
    build_args = {k: v for ins, a in instructions if ins == "ARG" for k, _, v in [a.partition("=")]}
    bases = [
        re.sub(r"\$\{?(\w+)\}?", lambda m: build_args.get(m[1], m[0]), f.split()[0]) for f in froms
    ]
    assert all(b.startswith("python:3.11-slim") for b in bases), f"base images {bases}"

    final = dockerfile_final_stage()
    final_runs = " ".join(args for ins, args in final if ins == "RUN")
    earlier_runs = " ".join(
        args for ins, args in instructions[: len(instructions) - len(final)] if ins == "RUN"
    )
    assert "grpc_tools.protoc" in earlier_runs and "--pyi_out=gen" in earlier_runs, (
        "code must be generated in a build stage"
    )
    assert "grpc_tools.protoc" not in final_runs, "code generation belongs in the build stage"

    users = [args for ins, args in final if ins == "USER"]
    assert users, "final stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, (
        f"USER {users[-1]} must be a numeric non-root UID (runAsNonRoot)"
    )
    pod_uids = {
        pod_spec(d)["securityContext"]["runAsUser"]
        for o in OVERLAYS
        for d in by_kind(render(o), "Deployment").values()
    }
    assert pod_uids == {int(uid)}, f"image USER {uid} vs pod runAsUser {pod_uids}"
    assert dockerfile_env(final).get("PYTHONPATH") == PYTHONPATH


def dockerignore_rules() -> list[tuple[re.Pattern[str], bool]]:
    """(pattern, is exception) per .dockerignore line, as Docker's patternmatcher reads
    them: `**` spans directories, `*` and `?` stay within one, `!` re-includes."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((re.compile(f"^{regex}$"), exception))
    return rules


def left_out_of_the_build_context(path: str) -> bool:
    """Whether Docker leaves `path` (relative to the repo) out of the build context: the
    last rule matching the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = [path] + ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    left_out = False
    for pattern, exception in dockerignore_rules():
        if exception != left_out:
            continue
        if any(pattern.match(candidate) for candidate in candidates):
            left_out = not exception
    return left_out


def files_in_the_image() -> list[str]:
    """The files of the build context that a COPY of the build stage puts in the image."""
    sources = [
        shlex.split(args)[0].rstrip("/")
        for ins, args in dockerfile_instructions()
        if ins == "COPY" and not args.startswith("--from")
    ]
    found = []
    for source in sources:
        root = REPO / source
        if root.is_file():
            found += [source] if not left_out_of_the_build_context(source) else []
            continue
        for directory, subdirectories, files in os.walk(root):
            relative = Path(directory).relative_to(REPO).as_posix()
            subdirectories[:] = [
                d for d in subdirectories if not left_out_of_the_build_context(f"{relative}/{d}")
            ]
            found += [
                f"{relative}/{name}"
                for name in files
                if not left_out_of_the_build_context(f"{relative}/{name}")
            ]
    return sorted(found)


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".run/intake-api.pid",
        "var/keys/private.pem",
        "var/broker-users.json",
        "gen/casework/intake/v1/intake_pb2.py",
        "lib/casework_common/__pycache__/config.cpython-311.pyc",
        ".git/HEAD",
        ".env",
        "services/intake/.env",
        "tools/casework_dev/devstack.py",
        "tools/casework_dev/testing/fixtures.py",
        "tests/e2e/test_intake_flows.py",
        "services/intake/tests/unit/test_referrals.py",
        "services/clients/casework_clients/testing.py",
        "lib/casework_common/testing/fixtures.py",
        "lib/casework_common/test_anything.py",
        "services/notify/conftest.py",
        "deploy/base/kustomization.yaml",
        "Makefile",
        ".importlinter",
    ],
)
def test_dockerignore_keeps_local_state_tests_and_dev_tools_out_of_the_build_context(path):
    assert left_out_of_the_build_context(path)


def test_the_image_gets_the_runtime_and_no_test_file_or_dev_tool():
    image = files_in_the_image()
    runtime = {
        "requirements.txt",
        "protos/casework/intake/v1/intake.proto",
        "lib/casework_common/config.py",
        # An operator tool: `python -m casework_common.replay` in a pod of the image.
        "lib/casework_common/replay.py",
        *(
            p.relative_to(REPO).as_posix()
            for p in (REPO / "services").glob("*/casework_*/__main__.py")
        ),
    }
    assert runtime <= set(image), sorted(runtime - set(image))
    tests = [
        f
        for f in image
        if "tests" in f.split("/")
        or Path(f).name.startswith("test_")
        or Path(f).name == "conftest.py"
    ]
    assert not tests, tests
    dev_tools = [
        f
        for f in image
        if f.startswith("tools/")
        or "casework_dev" in f
        or Path(f).stem == "testing"
        or "/testing/" in f
    ]
    assert not dev_tools, dev_tools
    assert all(Path(f).suffix not in {".pyc", ".pyo"} for f in image)


@overlays
def test_every_python_module_in_manifests_is_a_service_package_in_the_repo(overlay):
    for name, dep in by_kind(render(overlay), "Deployment").items():
        container = app_container(dep)
        argv = [*container.get("command", []), *container.get("args", [])]
        for module in re.findall(r"\bcasework_\w+", " ".join(argv)):
            svc = module.removeprefix("casework_")
            assert (REPO / "services" / svc / module).is_dir(), (
                f"{overlay}/{name} runs {module}: no services/{svc}/{module}/"
            )


def test_every_service_package_in_the_repo_is_deployed():
    packages = {
        p.parent.name
        for p in (REPO / "services").glob("*/casework_*")
        if p.is_dir() and p.name == f"casework_{p.parent.name}"
    }
    assert packages == set(SERVICES), (
        f"services/ holds {sorted(packages)}; deploy/ runs {sorted(SERVICES)}"
    )


# ------------------------------------------------- the public edge (issue 8) --


@overlays
def test_the_only_ingresses_are_intakes_and_feedbacks_public_ones(overlay):
    ingresses = by_kind(render(overlay), "Ingress")
    assert sorted(ingresses) == ["feedback-public", "intake-public"], (
        f"{overlay}: ingresses {sorted(ingresses)}"
    )


@overlays
def test_intakes_ingress_routes_public_paths_to_intakes_public_port(overlay):
    docs = render(overlay)
    ingresses = by_kind(docs, "Ingress")
    services, deployments = by_kind(docs, "Service"), by_kind(docs, "Deployment")
    backends = []
    for rule in ingresses["intake-public"]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert (path["path"], path["pathType"]) == ("/public/", "Prefix"), path
            backends.append(path["backend"]["service"])
    assert "defaultBackend" not in ingresses["intake-public"]["spec"]
    assert backends, f"{overlay}: the ingress routes nothing"
    events = deployments["intake-events"]
    container = app_container(events)
    for backend in backends:
        service = services[backend["name"]]
        selector = {"matchLabels": service["spec"]["selector"]}
        selected = [
            d for d, dep in deployments.items() if selector_matches(selector, pod_labels(dep))
        ]
        assert selected == ["intake-events"], f"{overlay}: {backend['name']} selects {selected}"
        (port,) = [
            p
            for p in service["spec"]["ports"]
            if p.get("name") == backend["port"].get("name")
            or p["port"] == backend["port"].get("number")
        ]
        # Only the public port is reachable through the ingress: never health or metrics.
        assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["targetPort"]]
        assert container_port(container, port["targetPort"]) == PUBLIC_PORT
    assert int(container_env(docs, container)["PUBLIC_HTTP_PORT"]) == PUBLIC_PORT
    assert PUBLIC_PORT != HEALTH_PORT


@overlays
def test_intakes_public_port_admits_only_the_ingress_controller(overlay):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    deployments = by_kind(docs, "Deployment")
    ingress_controller = Peer(
        {"casework.io/public-ingress": "true", "kubernetes.io/metadata.name": "ingress-nginx"},
        {"app": "controller"},
    )
    elsewhere = Peer({"kubernetes.io/metadata.name": "elsewhere"}, {"app": "x"})
    in_casework = Peer({"kubernetes.io/metadata.name": "casework"}, {"app": "debug"}, True)
    events = pod_labels(deployments["intake-events"])
    assert ingress_allowed(policies, events, PUBLIC_PORT, ingress_controller)
    assert not ingress_allowed(policies, events, PUBLIC_PORT, elsewhere)
    assert not ingress_allowed(policies, events, PUBLIC_PORT, in_casework)
    assert not ingress_allowed(policies, events, HEALTH_PORT, ingress_controller)
    for name, dep in deployments.items():
        if name != "intake-events":
            assert not ingress_allowed(policies, pod_labels(dep), PUBLIC_PORT, ingress_controller)
    # The trusted proxies whose forwarding hop intake believes: set, and private only.
    trusted = container_env(docs, app_container(deployments["intake-events"]))
    networks = [ipaddress.ip_network(n) for n in str(trusted["INTAKE_TRUSTED_PROXIES"]).split(",")]
    assert networks and all(n.is_private for n in networks), networks


def prefix_matches(prefix: str, path: str) -> bool:
    """Ingress pathType Prefix: element-wise on "/", a trailing slash ignored."""
    want = [e for e in prefix.split("/") if e]
    return [e for e in path.split("/") if e][: len(want)] == want


def feedback_public_routes() -> list[str]:
    """The paths feedback's public handlers declare, placeholders filled in."""
    declared = re.findall(
        r'@public_http\(\s*"[A-Z]+"\s*,\s*"([^"]+)"', FEEDBACK_PUBLIC_ROUTES.read_text()
    )
    return [re.sub(r"<[^>]+>", "x", path) for path in declared]


@overlays
def test_feedbacks_ingress_routes_only_the_mini_survey_paths_to_its_public_port(overlay):
    docs = render(overlay)
    ingress = by_kind(docs, "Ingress")["feedback-public"]
    services, deployments = by_kind(docs, "Service"), by_kind(docs, "Deployment")
    assert "defaultBackend" not in ingress["spec"]
    paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert paths, f"{overlay}: feedback's ingress routes nothing"
    prefixes = [path["path"] for path in paths]
    assert all(path["pathType"] == "Prefix" for path in paths), paths
    # Every public route is reachable, and nothing else the process serves is.
    routes = feedback_public_routes()
    assert len(routes) >= 3, routes
    for route in routes:
        assert any(prefix_matches(p, route) for p in prefixes), f"{overlay}: {route} unrouted"
    for private in ("/healthz", "/metrics", "/", "/public/v1/organisations/org-demo/referrals"):
        assert not any(prefix_matches(p, private) for p in prefixes), f"{overlay}: {private}"
    events = deployments["feedback-events"]
    container = app_container(events)
    for path in paths:
        backend = path["backend"]["service"]
        service = services[backend["name"]]
        selector = {"matchLabels": service["spec"]["selector"]}
        selected = [
            d for d, dep in deployments.items() if selector_matches(selector, pod_labels(dep))
        ]
        assert selected == ["feedback-events"], f"{overlay}: {backend['name']} selects {selected}"
        (port,) = [
            p
            for p in service["spec"]["ports"]
            if p.get("name") == backend["port"].get("name")
            or p["port"] == backend["port"].get("number")
        ]
        # Only the public port is behind the Service: never health or metrics.
        assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["targetPort"]]
        assert container_port(container, port["targetPort"]) == FEEDBACK_PUBLIC_PORT
    assert int(container_env(docs, container)["FEEDBACK_PUBLIC_HTTP_PORT"]) == FEEDBACK_PUBLIC_PORT
    assert FEEDBACK_PUBLIC_PORT not in (HEALTH_PORT, METRICS_PORT)


@overlays
def test_feedbacks_public_port_admits_only_the_ingress_controller(overlay):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    deployments = by_kind(docs, "Deployment")
    ingress_controller = Peer(
        {"casework.io/public-ingress": "true", "kubernetes.io/metadata.name": "ingress-nginx"},
        {"app": "controller"},
    )
    elsewhere = Peer({"kubernetes.io/metadata.name": "elsewhere"}, {"app": "x"})
    in_casework = Peer({"kubernetes.io/metadata.name": "casework"}, {"app": "debug"}, True)
    partner = Peer({**PARTNER_NS, "kubernetes.io/metadata.name": "ingress"}, {"app": "gateway"})
    events = pod_labels(deployments["feedback-events"])
    assert ingress_allowed(policies, events, FEEDBACK_PUBLIC_PORT, ingress_controller)
    for stranger in (elsewhere, in_casework, partner):
        assert not ingress_allowed(policies, events, FEEDBACK_PUBLIC_PORT, stranger)
    assert not ingress_allowed(policies, events, HEALTH_PORT, ingress_controller)
    assert not ingress_allowed(policies, events, PUBLIC_PORT, ingress_controller)
    for name, dep in deployments.items():
        if name != "feedback-events":
            assert not ingress_allowed(
                policies, pod_labels(dep), FEEDBACK_PUBLIC_PORT, ingress_controller
            ), f"{overlay}/{name}"
    # The trusted proxies whose forwarding hop feedback believes: set, and private only.
    env = container_env(docs, app_container(deployments["feedback-events"]))
    networks = [ipaddress.ip_network(n) for n in str(env["FEEDBACK_TRUSTED_PROXIES"]).split(",")]
    assert networks and all(n.is_private for n in networks), networks


def egress_allowed(
    policies: list[dict], source_labels: dict, port: int, to: Peer, protocol: str = "TCP"
) -> bool:
    selecting = [
        p
        for p in policies
        if "Egress" in p["spec"].get("policyTypes", [])
        and selector_matches(p["spec"].get("podSelector"), source_labels)
    ]
    if not selecting:
        return True

    def peer_matches(rule_peer: dict) -> bool:
        if "ipBlock" in rule_peer:
            return False
        ns_sel, pod_sel = rule_peer.get("namespaceSelector"), rule_peer.get("podSelector")
        ns_ok = (
            selector_matches(ns_sel, to.namespace_labels)
            if ns_sel is not None
            else to.same_namespace
        )
        pod_ok = selector_matches(pod_sel, to.pod_labels) if pod_sel is not None else True
        return ns_ok and pod_ok

    return any(
        (not rule.get("to") or any(peer_matches(t) for t in rule["to"]))
        and (
            not rule.get("ports")
            or any(
                p.get("protocol", "TCP") == protocol and p.get("port") in (None, port)
                for p in rule["ports"]
            )
        )
        for p in selecting
        for rule in p["spec"].get("egress") or []
    )


@overlays
def test_egress_reaches_only_what_each_service_needs(overlay):
    docs = render(overlay)
    policies = list(by_kind(docs, "NetworkPolicy").values())
    assert any(
        p["spec"].get("podSelector") == {}
        and "Egress" in p["spec"].get("policyTypes", [])
        and not p["spec"].get("egress")
        for p in policies
    ), f"{overlay}: no default-deny egress policy"
    deployments = by_kind(docs, "Deployment")

    def ns(label: str, name: str) -> Peer:
        return Peer(
            {f"casework.io/{label}": "true", "kubernetes.io/metadata.name": name}, {"app": name}
        )

    dns = Peer({"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"})
    broker, database = ns("broker", "rabbitmq"), ns("database", "mongodb")
    storage, mail, traces = (
        ns("object-storage", "minio"),
        ns("mail", "postfix"),
        ns("telemetry", "otel"),
    )
    internet = Peer({"kubernetes.io/metadata.name": "elsewhere"}, {"app": "anything"})
    for svc, proc in SERVICE_PROCESSES:
        source = pod_labels(deployments[f"{svc}-{proc}"])
        expected = [
            (53, dns, True, "UDP"),
            (53, dns, True, "TCP"),
            (5672, broker, True, "TCP"),
            (27017, database, True, "TCP"),
            (4317, traces, True, "TCP"),
            (443, storage, svc == "documents", "TCP"),
            (587, mail, svc == "notify", "TCP"),
            (443, internet, False, "TCP"),
            (5672, internet, False, "TCP"),
            (27017, broker, False, "TCP"),
            (53, internet, False, "UDP"),
        ]
        # Services talk through events; the only gRPC calls between them are documents-api
        # reading a card from clients-api and the plan in effect from plans-api, and
        # notify-api reading the card of a client it messages from clients-api.
        for other in SERVICES:
            target = pod_labels(deployments[f"{other}-api"])
            expected.append(
                (
                    GRPC_PORT,
                    Peer({"kubernetes.io/metadata.name": "casework"}, target, True),
                    ((svc, proc) == ("documents", "api") and other in ("clients", "plans"))
                    or ((svc, proc) == ("notify", "api") and other == "clients"),
                    "TCP",
                )
            )
        wrong = [
            f"{protocol} {port} to {peer.namespace_labels.get('kubernetes.io/metadata.name')}: "
            f"{'denied' if allowed else 'allowed'}"
            for port, peer, allowed, protocol in expected
            if egress_allowed(policies, source, port, peer, protocol) != allowed
        ]
        assert not wrong, f"{overlay}/{svc}-{proc}: {wrong}"


# Pod Security Standards, `restricted` profile (v1.27+), as far as these pods can show it.
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def test_the_namespace_enforces_the_restricted_pod_security_standard():
    (namespace,) = [d for d in yaml.safe_load_all(_render_text(NAMESPACE_DIR.resolve())) if d]
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == "casework"
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels.get(f"pod-security.kubernetes.io/{mode}") == "restricted", labels


@overlays
def test_the_overlays_never_render_the_namespace_so_delete_keeps_its_secrets(overlay):
    assert not by_kind(render(overlay), "Namespace")


@overlays
def test_every_pod_meets_the_restricted_pod_security_standard(overlay):
    for name, dep in by_kind(render(overlay), "Deployment").items():
        spec = pod_spec(dep)
        pod_sc = spec.get("securityContext", {})
        where = f"{overlay}/{name}"
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= _RESTRICTED_VOLUMES, f"{where}: volume {volume}"
        for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
            sc = container.get("securityContext", {})
            assert sc.get("privileged") is not True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, where
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") in ("RuntimeDefault", "Localhost"), f"{where}: {seccomp}"
            caps = sc.get("capabilities", {})
            assert caps.get("drop") == ["ALL"], f"{where}: {caps}"
            assert set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}, f"{where}: {caps}"
            assert not any(p.get("hostPort") for p in container.get("ports", [])), where


@overlays
def test_api_processes_verify_tokens_with_public_keys_mounted_from_a_configmap(overlay):
    docs = render(overlay)
    for name, dep in by_kind(docs, "Deployment").items():
        container = app_container(dep)
        env = container_env(docs, container)
        assert env["JWT_AUDIENCE"], f"{overlay}/{name}"
        if not name.endswith("-api"):
            continue
        path = Path(str(env["JWT_JWKS_FILE"]))
        volumes = {
            v["name"]: v["configMap"] for v in pod_spec(dep).get("volumes", []) if "configMap" in v
        }
        mounts = [
            m
            for m in container.get("volumeMounts", [])
            if volumes.get(m["name"], {}).get("name") == JWKS_CONFIGMAP
        ]
        assert [Path(m["mountPath"]) for m in mounts] == [path.parent], f"{overlay}/{name}"
        assert all(m.get("readOnly") for m in mounts), f"{overlay}/{name}"
        # Without the keys the api cannot verify anyone: no silent optional mount.
        assert not volumes[mounts[0]["name"]].get("optional"), f"{overlay}/{name}"


def test_the_image_listens_on_all_addresses_and_ships_no_tests():
    env = dockerfile_env(dockerfile_final_stage())
    assert env.get("BIND_HOST") == "0.0.0.0"
    assert env.get("PUBLIC_HTTP_PORT") == str(PUBLIC_PORT)
    copied = [args.split()[0] for ins, args in dockerfile_instructions() if ins == "COPY"]
    assert "tests/" not in copied and "tests" not in copied, copied


# ------------------------------------------------- large network: the engines --
#
# deploy/overlays/large-network/engines/ is rendered offline like the overlays; kustomize
# does not know the operators' CRDs, so nothing validates these resources but the checks
# below, field by field.

ENGINES = "large-network/engines"
LARGE_SECRET_EXAMPLES = OVERLAYS_DIR / "large-network" / "secrets"


def _engines() -> tuple[dict, dict, dict]:
    docs = render(ENGINES)
    (namespace,) = by_kind(docs, "Namespace").values()
    (rabbit,) = by_kind(docs, "RabbitmqCluster").values()
    (mongo,) = by_kind(docs, "MongoDBCommunity").values()
    return namespace, rabbit, mongo


def test_large_network_archive_is_a_distributed_minio_tenant_with_object_lock():
    docs = render(ENGINES)
    (namespace,) = by_kind(docs, "Namespace").values()
    (tenant,) = by_kind(docs, "Tenant").values()
    assert tenant["apiVersion"] == "minio.min.io/v2"
    assert tenant["metadata"]["namespace"] == namespace["metadata"]["name"]
    # Erasure coding over 4 servers x 4 drives survives a lost server.
    (pool,) = tenant["spec"]["pools"]
    assert (pool["servers"], pool["volumesPerServer"]) == (4, 4)
    assert _hostname_anti_affinity(pool["affinity"])
    buckets = {b["name"]: b for b in tenant["spec"]["buckets"]}
    assert buckets["casework-documents"]["objectLock"] is True
    # documents' egress (allow-egress-object-storage) admits the engines' namespace.
    policy = by_kind(render("large-network"), "NetworkPolicy")["allow-egress-object-storage"]
    (rule,) = policy["spec"]["egress"]
    selectors = [peer["namespaceSelector"]["matchLabels"] for peer in rule["to"]]
    labels = namespace["metadata"]["labels"]
    assert any(selector.items() <= labels.items() for selector in selectors)


def _hostname_anti_affinity(affinity: dict) -> bool:
    terms = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return any(term["topologyKey"] == "kubernetes.io/hostname" for term in terms)


def test_large_network_broker_is_a_three_node_rabbitmq_cluster_of_the_operator():
    namespace, rabbit, _ = _engines()
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1"
    assert rabbit["metadata"]["namespace"] == namespace["metadata"]["name"]
    assert rabbit["spec"]["replicas"] == 3
    assert _hostname_anti_affinity(rabbit["spec"]["affinity"])
    config = rabbit["spec"]["rabbitmq"]["additionalConfig"]
    # A partitioned minority stops rather than diverging; queues are quorum queues.
    assert "cluster_partition_handling = pause_minority" in config
    assert "default_queue_type = quorum" in config


def test_large_network_database_is_a_three_member_replica_set_of_the_operator():
    namespace, _, mongo = _engines()
    assert mongo["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    assert mongo["metadata"]["namespace"] == namespace["metadata"]["name"]
    spec = mongo["spec"]
    assert (spec["members"], spec["type"]) == (3, "ReplicaSet")
    assert spec["security"]["authentication"]["modes"] == ["SCRAM"]
    assert _hostname_anti_affinity(spec["statefulSet"]["spec"]["template"]["spec"]["affinity"])
    # One user per service, who may read and write its own database and nothing else.
    users = {user["name"]: user for user in spec["users"]}
    assert set(users) == {f"casework-{svc}" for svc in SERVICES}
    for svc in SERVICES:
        user = users[f"casework-{svc}"]
        assert user["roles"] == [{"name": "readWrite", "db": f"casework_{svc}"}], svc
        assert user["passwordSecretRef"]["name"] == f"casework-mongo-{svc}-password"


def test_the_suites_network_policies_let_the_services_reach_the_engines():
    namespace, _, _ = _engines()
    labels = namespace["metadata"]["labels"]
    policies = by_kind(render("large-network"), "NetworkPolicy")
    for name, port in (("allow-egress-broker", 5672), ("allow-egress-database", 27017)):
        (rule,) = policies[name]["spec"]["egress"]
        selectors = [peer["namespaceSelector"]["matchLabels"] for peer in rule["to"]]
        assert any(selector.items() <= labels.items() for selector in selectors), name
        assert port in {p["port"] for p in rule["ports"]}, name


def _example_env(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key: value for key, value in pairs}


@pytest.mark.parametrize("svc", SERVICES)
def test_large_network_connection_settings_name_every_node_of_the_engines(svc):
    namespace, rabbit, mongo = _engines()
    ns = namespace["metadata"]["name"]
    env = _example_env(LARGE_SECRET_EXAMPLES / f"{svc}.example.env")
    assert set(env) == SECRET_ENV[svc]

    # Every broker node, `;`-separated (kombu fails over between them), as the
    # service's own broker user.
    broker = rabbit["metadata"]["name"]
    amqp = [urllib.parse.urlsplit(uri) for uri in env["AMQP_URI"].split(";")]
    assert {u.hostname for u in amqp} == {
        f"{broker}-server-{i}.{broker}-nodes.{ns}.svc" for i in range(rabbit["spec"]["replicas"])
    }
    assert {(u.scheme, u.username, u.port) for u in amqp} == {("amqp", f"casework-{svc}", 5672)}

    # The replica set by name, every member listed, the service's own database user.
    replica_set = mongo["metadata"]["name"]
    uri = env["MONGO_URI"]
    parts = urllib.parse.urlsplit(uri)
    hosts = parts.netloc.rpartition("@")[2].split(",")
    assert set(hosts) == {
        f"{replica_set}-{i}.{replica_set}-svc.{ns}.svc:27017"
        for i in range(mongo["spec"]["members"])
    }
    query = urllib.parse.parse_qs(parts.query)
    assert query["replicaSet"] == [replica_set]
    assert query["authSource"] == ["admin"]
    assert parts.netloc.partition(":")[0] == f"casework-{svc}"
    assert f"casework-{svc}" in {user["name"] for user in mongo["spec"]["users"]}


def test_only_notify_events_reaches_partner_webhooks_and_never_a_private_network() -> None:
    """The one ipBlock egress: notify's events process to https on the internet, every
    private, loopback, link-local and carrier-grade range left out."""
    documents = yaml.safe_load_all(
        (DEPLOY / "base" / "common" / "networkpolicies.yaml").read_text()
    )
    with_blocks = [
        d
        for d in documents
        if d
        and any("ipBlock" in peer for rule in d["spec"].get("egress", []) for peer in rule["to"])
    ]
    assert [d["metadata"]["name"] for d in with_blocks] == ["allow-egress-partner-webhooks"]
    [policy] = with_blocks
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/part-of": "casework",
        "casework.io/service": "notify",
        "casework.io/process": "events",
    }
    [rule] = policy["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    block = rule["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    assert {
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "127.0.0.0/8",
    } <= set(block["except"])
