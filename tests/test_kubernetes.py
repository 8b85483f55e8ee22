"""deploy/kubernetes/ (a kustomize base) is valid against the Kubernetes schemas, offline
(kubernetes-validate ships them), sets only variables the settings know, and probes
only paths the app serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from authsvc.app import create_app
from authsvc.config import Settings
from tests.conftest import make_settings

BASE = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
# The oldest Kubernetes the manifests are written for (the preStop `sleep` action).
KUBERNETES_VERSION = "1.30.0"


def _kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return loaded


def _resources() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in _kustomization()["resources"]:
        for document in yaml.safe_load_all((BASE / name).read_text()):
            if document:
                found.append((f"{name}: {document['kind']}/{document['metadata']['name']}",
                              document))  # fmt: skip
    return found


RESOURCES = _resources()


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, document["spec"]["template"]["spec"])
        for name, document in RESOURCES
        if document["kind"] in ("Deployment", "Job")
    ]


def test_the_kustomization_lists_every_manifest_of_the_folder() -> None:
    listed = set(_kustomization()["resources"])
    assert listed == {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize(("name", "document"), RESOURCES, ids=[name for name, _ in RESOURCES])
def test_each_manifest_is_valid_against_the_kubernetes_schema(
    name: str, document: dict[str, Any]
) -> None:
    # strict: an unknown field (a typo) is an error, not silently dropped by the server.
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_would_be_caught() -> None:
    """The control: the validator does reject what a cluster would."""
    _, deployment = next(item for item in RESOURCES if item[1]["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _variables() -> set[str]:
    names = set()
    for _, document in RESOURCES:
        if document["kind"] == "ConfigMap":
            names |= set(document["data"])
    for _, pod in _pod_specs():
        for container in pod["containers"]:
            names |= {variable["name"] for variable in container.get("env", [])}
    return names


def test_every_variable_they_set_is_a_setting() -> None:
    variables = _variables()
    assert "AUTHSVC_DATABASE_POOLER" in variables  # the set is not empty by accident
    unknown = {
        name for name in variables
        if not name.startswith("AUTHSVC_")
        or name.removeprefix("AUTHSVC_").lower() not in Settings.model_fields
    }  # fmt: skip
    assert not unknown


def test_the_configured_values_are_accepted_by_the_settings() -> None:
    values = {
        name.removeprefix("AUTHSVC_").lower(): value
        for _, document in RESOURCES
        if document["kind"] == "ConfigMap"
        for name, value in document["data"].items()
    }
    settings = Settings.model_validate(values)
    assert settings.transaction_pooled and not settings.is_dev


def test_every_probe_path_is_served_by_the_app() -> None:
    app = create_app(settings=make_settings())
    paths = {path for path, operations in app.openapi()["paths"].items() if "get" in operations}
    probed = {
        container[probe]["httpGet"]["path"]
        for _, pod in _pod_specs()
        for container in pod["containers"]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
        if probe in container
    }
    assert probed == {"/readyz", "/healthz"}
    assert probed <= paths


def test_the_pods_run_as_non_root_on_a_read_only_root_with_a_writable_tmp() -> None:
    for name, pod in _pod_specs():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, name
            assert set(container["resources"]) == {"requests", "limits"}, name


def test_the_api_drains_before_it_stops() -> None:
    api = next(doc for name, doc in RESOURCES if doc["metadata"]["name"] == "authsvc-api"
               and doc["kind"] == "Deployment")  # fmt: skip
    pod = api["spec"]["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < pause < pod["terminationGracePeriodSeconds"]
