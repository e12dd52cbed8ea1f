"""Filters of the reset role (logic in module_utils/host/reset_paths.py)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.reset_paths import unsafe

DOCUMENTATION_FILTERS = """
reset_unsafe_paths: {variable: path} -> one message per path the reset must not delete or unmount below
"""


def reset_unsafe_paths(paths):
    if not isinstance(paths, dict):
        raise AnsibleFilterError("kubesmith.cluster.reset_unsafe_paths expects a dict of variable -> path")
    return unsafe(dict(paths))


class FilterModule:
    def filters(self):
        return {"reset_unsafe_paths": reset_unsafe_paths}
