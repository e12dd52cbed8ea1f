"""Filters that shape a role's files for the host_files module (decisions in module_utils/host/files.py)."""

from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import to_nice_yaml
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.files import (
    component_restarts,
    sysctl_drift,
    sysctl_path,
    unit_path,
)

DOCUMENTATION_FILTERS = """
component_files: (components, template, config_files) -> host_files entries: one unit per component (the role's
  template with item=component) and each configuration file (its data as YAML)
template_files: (items, template, path with {} for the item's key) -> host_files entries, one per item, rendered
  with item=the item (template none: each item's own `template`)
sysctl_paths: (kernel parameter names) -> their /proc/sys paths
sysctl_drift: (wanted {name: value}, host_files probed) -> names whose running value differs
service_states: (names, names to restart) -> host_services units: restarted for those, started for the others
component_restarts: (components, config_files, host_files result, binaries changed) -> names of the components
  that restart
"""


def _names(components):
    if not isinstance(components, list) or not all(isinstance(c, dict) and c.get("name") for c in components):
        raise AnsibleFilterError("kubesmith.cluster.component_*: components must be a list of dicts with a name")
    return [c["name"] for c in components]


def template_files(items, template, path, key="name", mode="0644"):
    if not isinstance(items, list) or "{}" not in str(path):
        raise AnsibleFilterError("kubesmith.cluster.template_files: a list of items and a path with {} are needed")
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get(key):
            raise AnsibleFilterError("kubesmith.cluster.template_files: every item needs %r: %r" % (key, item))
        own = template or item.get("template")
        if not own:
            raise AnsibleFilterError("kubesmith.cluster.template_files: no template for %r" % (item[key],))
        out.append(dict(path=str(path).replace("{}", str(item[key])), template=own, vars={"item": item}, mode=mode))
    return out


def component_files(components, template, config_files=(), mode="0644", config_mode="0644"):
    _names(components)
    files = template_files(components, template, unit_path("{}"), mode=mode)
    for entry in config_files or ():
        if not isinstance(entry, dict) or not entry.get("path"):
            raise AnsibleFilterError("kubesmith.cluster.component_files: every configuration file needs a path: %r"
                                     % (entry,))
        if entry.get("content") is None:
            continue
        content = entry["content"]
        files.append(dict(path=entry["path"], mode=config_mode,
                          content=content if isinstance(content, str) else to_nice_yaml(content, indent=2)))
    return files


def component_restarts_filter(components, config_files, result, binaries_changed=False):
    changed = (result or {}).get("changed_paths") or []
    return component_restarts(_names(components), config_files or [], changed, bool(binaries_changed))


def service_states(names, restart=()):
    names = list(names)
    if not all(isinstance(n, str) and n for n in names):
        raise AnsibleFilterError("kubesmith.cluster.service_states: names must be unit names")
    restart = set(restart or ())
    return [dict(name=n, state="restarted" if n in restart else "started") for n in names]


def sysctl_paths(names):
    return [sysctl_path(n) for n in names]


def sysctl_drift_filter(wanted, probed):
    if not isinstance(wanted, dict) or not isinstance(probed, dict):
        raise AnsibleFilterError("kubesmith.cluster.sysctl_drift expects {name: value} and the probed dict")
    return sysctl_drift(wanted, probed)


class FilterModule:
    def filters(self):
        return {"component_files": component_files, "template_files": template_files,
                "service_states": service_states, "sysctl_paths": sysctl_paths,
                "sysctl_drift": sysctl_drift_filter, "component_restarts": component_restarts_filter}
