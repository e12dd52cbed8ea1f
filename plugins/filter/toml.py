"""to_toml filter: render a dict whole as TOML (containerd configuration)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.toml_render import TomlError, to_toml


def _to_toml(data):
    try:
        return to_toml(data)
    except TomlError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"to_toml": _to_toml}
