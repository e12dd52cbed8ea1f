"""etcd member names and URLs derived from the inventory (pure, controller side).

A member is named like its node (``node_name``, default the inventory name) and
reached at its node address; these strings must agree across every etcd host,
the role and the modules, so they are computed in one place.
"""


class EtcdUrlError(ValueError):
    pass


def _url(address, port):
    host = "[%s]" % address if ":" in address else address
    return "https://%s:%d" % (host, int(port))


def members(hosts: list[tuple]) -> list[tuple[str, str]]:
    """``hosts``: list of (inventory name, node_name or None, address or None) -> list of (name, address)."""
    result = []
    for host, node_name, address in hosts:
        if not address:
            raise EtcdUrlError(
                "etcd member %s has no address yet: set node_ip (or an IP ansible_host), or gather facts first" % host
            )
        result.append((node_name or host, address))
    names = [name for name, _ in result]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise EtcdUrlError("etcd member names must be unique: %s used more than once" % ", ".join(duplicates))
    return result


def client_urls(hosts: list[tuple], port: int = 2379) -> list[str]:
    return [_url(address, port) for _, address in members(hosts)]


def host_urls(hosts: list[tuple], port: int) -> dict[str, str]:
    """``{inventory name: https://address:port}``: each host's own endpoint (an etcd member, an apiserver)."""
    return {host: _url(address, port) for (host, _, _), (_, address) in zip(hosts, members(hosts))}


def peer_urls(hosts: list[tuple], port: int = 2380) -> list[str]:
    return [_url(address, port) for _, address in members(hosts)]


def initial_cluster(hosts: list[tuple], port: int = 2380) -> str:
    """The ``--initial-cluster`` value: ``name=https://address:port`` pairs, comma separated."""
    return ",".join("%s=%s" % (name, _url(address, port)) for name, address in members(hosts))
