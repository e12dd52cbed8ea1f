#!/usr/bin/env python3
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Time the controller side of kube_pki for a generated 100-node inventory. Figures only, no thresholds.

The work kube_pki does on the controller, per phase, without the transport (the hosts' two pki_files calls
are I/O on the hosts, not here):

- ca:      state=ca on an empty primary: three CAs and the service-account key are created;
- build:   state=present on every host of an empty cluster: load the CA material (as each host's task does),
           derive the host's certificate set, plan, issue every key/certificate and render the kubeconfigs;
- re-run:  state=present on every host of the built cluster: parse and verify what is there, plan (nothing to do);
- renew:   state=present with reissue=all on every host.

Usage: benchmarks/pki_100_nodes.py [--nodes 100] [--algorithm ecdsa-p256|rsa-2048|rsa-4096] [--stacked]
Run from the repository root with the project venv's python.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
_link = os.path.join(COLLECTIONS, "ansible_collections", "kubesmith", "cluster")
if not os.path.islink(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink("../../..", _link)
sys.path.insert(0, COLLECTIONS)

from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import crypto as C  # noqa: E402
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import engine as E  # noqa: E402
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import model as PM  # noqa: E402
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import plan as P  # noqa: E402
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import specs as PS  # noqa: E402


def inventory(nodes, stacked):
    """3 control-plane hosts, 3 etcd hosts (or stacked), workers for the rest; 10.20.x.y addresses."""
    cps = ["cp%d" % i for i in range(1, 4)]
    etcd = cps if stacked else ["etcd%d" % i for i in range(1, 4)]
    workers = ["worker%03d" % i for i in range(1, nodes - len(set(cps + etcd)) + 1)]
    hosts = cps + ([] if stacked else etcd) + workers
    groups = {"control_plane": cps, "etcd": etcd, "workers": workers}
    hostvars = {h: {"node_ip": "10.20.%d.%d" % (i // 250, i % 250 + 1)} for i, h in enumerate(hosts)}
    return groups, hostvars, hosts


def apply(disk, entries):
    for entry in entries:
        if entry.get("state") == "absent":
            disk.pop(entry["path"], None)
        elif entry.get("content") is not None:
            disk[entry["path"]] = dict(
                exists=True, content=entry["content"], mode=entry["mode"], owner="root", group="root"
            )


def present(view, settings, hosts, disks, ca_dict, now, reissue=()):
    counts = {"issue": 0, "write": 0, "permissions": 0}
    for host in hosts:
        material = E.Material.from_dict(ca_dict, now)  # every host's task loads the registered CA material
        specs = PS.required_certificates(view, settings, host=host)
        observed, existing = E.observe(specs, disks[host], material, settings)
        actions = P.plan(specs, observed, now, settings, material.not_after(), reissue)
        if actions:
            outcome = E.materialize(actions, existing, material, settings, disks[host], now)
            apply(disks[host], outcome.entries)
        for action in actions:
            counts[action.operation] += 1
    return counts


def timed(label, func, show=True):
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    print("%-8s %7.3f s  %s" % (label, elapsed, result if show else ""))  # the CA material is never printed
    return result, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--algorithm", default="ecdsa-p256", choices=PM.KEY_ALGORITHMS)
    parser.add_argument("--stacked", action="store_true", help="etcd on the control-plane hosts")
    args = parser.parse_args()

    groups, hostvars, hosts = inventory(args.nodes, args.stacked)
    settings = PM.Settings(key_algorithm=args.algorithm, api_endpoint_host="api.example.org")
    view = PM.inventory_view(groups, hostvars)
    now = C.utcnow().replace(microsecond=0)
    disks = {h: {} for h in hosts}
    leaves = sum(1 for s in PS.required_certificates(view, settings) if s.kind == PM.LEAF)
    print(
        "kube_pki controller work: %d hosts (%s etcd), %d leaf certificates, %s"
        % (len(hosts), "stacked" if args.stacked else "external", leaves, args.algorithm)
    )

    primary = view.primary.host

    def ca():
        material, changes, entries, _ = E.resolve_material(
            PS.required_certificates(view, settings, host=primary), disks[primary], settings, now=now
        )
        apply(disks[primary], entries)
        return material.to_dict()

    ca_dict, t_ca = timed("ca", ca, show=False)
    _, t_build = timed("build", lambda: present(view, settings, hosts, disks, ca_dict, now))
    _, t_rerun = timed("re-run", lambda: present(view, settings, hosts, disks, ca_dict, now))
    _, t_renew = timed("renew", lambda: present(view, settings, hosts, disks, ca_dict, now, reissue=["all"]))
    print(
        "full PKI (ca + build): %.3f s; per host: build %.1f ms, re-run %.1f ms, renew %.1f ms"
        % (t_ca + t_build, 1000 * t_build / len(hosts), 1000 * t_rerun / len(hosts), 1000 * t_renew / len(hosts))
    )


if __name__ == "__main__":
    main()
