"""The topology step in a cluster: a Job declares every service's consumer queues,
each service's as its own broker user, with the image and pod security of the suite's
processes. Rendered offline like the rest of deploy/.

Run from the repo root:  pytest -q --import-mode=importlib tests/deploy
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "clients", "plans", "documents", "notify", "feedback")
IMAGE = "ghcr.io/casework/casework"

overlays = pytest.mark.parametrize("overlay", ["small-network", "large-network"])


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is required to render deploy/overlays", pytrace=False)
    proc = subprocess.run(
        [kubectl, "kustomize", str(REPO / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def topology_job(overlay: str) -> dict:
    jobs = [d for d in render(overlay) if d["kind"] == "Job"]
    assert [j["metadata"]["name"] for j in jobs] == ["casework-topology"]
    return jobs[0]


@overlays
def test_a_job_declares_the_queues_of_every_service_each_as_its_own_broker_user(overlay):
    pod = topology_job(overlay)["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}

    assert set(containers) == set(SERVICES)
    for service, container in containers.items():
        assert container["args"] == ["python", "-m", "casework_common.topology", service]
        secrets = {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in container.get("env", [])
            if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
        }
        assert secrets == {f"casework-{service}"}, f"{service}: reads {secrets}"
        assert container["image"].startswith(f"{IMAGE}:"), container["image"]


@overlays
def test_the_job_runs_non_root_read_only_and_retries_until_the_broker_answers(overlay):
    job = topology_job(overlay)
    pod = job["spec"]["template"]["spec"]

    assert pod["restartPolicy"] == "OnFailure" and job["spec"]["backoffLimit"] > 0
    # Removed once done, so the next release's apply creates it anew.
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["limits"] and container["resources"]["requests"]


@overlays
def test_the_jobs_pods_may_reach_the_broker(overlay):
    docs = render(overlay)
    labels = topology_job(overlay)["spec"]["template"]["metadata"]["labels"]
    broker = next(
        d
        for d in docs
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "allow-egress-broker"
    )
    wanted = broker["spec"]["podSelector"]["matchLabels"]
    assert all(labels.get(k) == v for k, v in wanted.items())
