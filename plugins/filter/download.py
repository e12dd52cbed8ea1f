"""Filters of the download role (logic in module_utils/artifacts/download.py)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.download import (
    ArtifactError,
    cache_spec,
    install_spec,
    listing,
    missing_plans,
    resolve,
)

DOCUMENTATION_FILTERS = """
artifact_plans: list of artifact descriptions -> fetch plans (mirror URL, checksum, cache paths)
artifact_install_spec: fetch plans -> the `artifacts` option of kubesmith.cluster.install_artifacts
artifact_cache_spec: fetch plans -> the `cache_files` option of kubesmith.cluster.install_artifacts
artifact_missing: fetch plans, install_artifacts result(s) -> the plans whose file a host lacks
artifact_list: fetch plans of many hosts -> each distinct file once (playbooks/artifacts.yml)
"""


def artifact_plans(
    artifacts, mirror="", host_cache="/var/cache/kubesmith/downloads", controller_cache="", pins=None,
    require_pins=False,
):
    try:
        return resolve(artifacts, mirror, host_cache, controller_cache, dict(pins or {}), bool(require_pins))
    except ArtifactError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def artifact_install_spec(plans):
    return install_spec(plans)


def artifact_cache_spec(plans):
    return cache_spec(plans)


def artifact_missing(plans, results):
    return missing_plans(plans, results)


def artifact_list(plans):
    try:
        return listing(plans)
    except ArtifactError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {
            "artifact_plans": artifact_plans,
            "artifact_install_spec": artifact_install_spec,
            "artifact_cache_spec": artifact_cache_spec,
            "artifact_missing": artifact_missing,
            "artifact_list": artifact_list,
        }
