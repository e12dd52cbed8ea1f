"""The lab `tools/lab up` built, as the lab tier's tests see it: its inventory and its first host."""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def inventory():
    """The lab's inventory file: KS_INVENTORY (tools/test lab sets it) or .lab/hosts.yml in this checkout."""
    return os.environ.get("KS_INVENTORY") or os.path.join(ROOT, ".lab", "hosts.yml")


def first_host():
    """(name, address) of the lab's first control-plane host (with `tools/lab up` it is the only host)."""
    with open(inventory(), encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    hosts = data["all"]["children"]["control_plane"]["hosts"]
    name = next(iter(hosts))
    return name, hosts[name]["ansible_host"]
