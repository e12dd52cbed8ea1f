# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The end-of-playbook summary: what runs now, when certificates expire, what to do next (pure, no I/O).

``summary_lines(api_version, nodes, etcd, certificates, next_steps)`` -> list of one-line strings for a job's
output (AWX shows a list of strings one per line):

* ``api_version``: the apiserver's gitVersion read through the cluster endpoint, or ``""`` when it did not answer;
* ``nodes``: the items of ``kubectl get nodes -o json``, or ``None`` when they could not be read;
* ``etcd``: ``{host: version}`` (``""`` for a member that did not answer);
* ``certificates``: ``{host: [item, ...]}`` from ``kube_pki state=inspect`` (``name``, ``kind`` leaf/ca,
  ``readable``, ``days_left``, ``not_after``);
* ``next_steps``: strings the playbook adds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _ready(node):
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _runtime(info):
    runtime = info.get("containerRuntimeVersion") or "?"
    return runtime.replace("://", " ", 1)


def node_lines(nodes) -> list[str]:
    if nodes is None:
        return ["nodes: could not be read (is the API up?)"]
    ready = sum(1 for n in nodes if _ready(n))
    lines = ["nodes: %d, %d Ready" % (len(nodes), ready)]
    for node in sorted(nodes, key=lambda n: (n.get("metadata") or {}).get("name", "")):
        info = (node.get("status") or {}).get("nodeInfo") or {}
        flags = []
        if not _ready(node):
            flags.append("NOT READY")
        if (node.get("spec") or {}).get("unschedulable"):
            flags.append("cordoned")
        lines.append(
            "  %s: kubelet %s, %s%s"
            % (
                (node.get("metadata") or {}).get("name", "?"),
                info.get("kubeletVersion", "?"),
                _runtime(info),
                (" - " + ", ".join(flags)) if flags else "",
            )
        )
    return lines


def etcd_line(etcd) -> list[str]:
    if not etcd:
        return []
    parts = ["%s %s" % (host, version or "NOT ANSWERING") for host, version in sorted(etcd.items())]
    return ["etcd: " + ", ".join(parts)]


def certificate_lines(certificates) -> list[str]:
    items = [(host, c) for host, certs in sorted((certificates or {}).items()) for c in certs or ()]
    if not items:
        return []
    dated = [(host, c) for host, c in items if c.get("readable") and c.get("days_left") is not None]
    expired = [(h, c) for h, c in dated if c["days_left"] < 0]
    unreadable = [(h, c) for h, c in items if not c.get("readable")]
    lines = [
        "certificates: %d on %d hosts, %d expired, %d unreadable"
        % (len(items), len({h for h, _ in items}), len(expired), len(unreadable))
    ]
    for kind, label in (("leaf", "first leaf to expire"), ("ca", "first CA to expire")):
        mine = [(h, c) for h, c in dated if c.get("kind") == kind]
        if mine:
            host, cert = min(mine, key=lambda hc: hc[1]["days_left"])
            lines.append(
                "  %s: %s on %s in %d days (%s)"
                % (label, cert.get("name"), host, cert["days_left"], (cert.get("not_after") or "?")[:10])
            )
    for host, cert in (expired + unreadable)[:5]:
        lines.append("  check %s on %s (%s)" % (cert.get("name"), host, cert.get("path", "?")))
    return lines


def summary_lines(api_version, nodes, etcd, certificates, next_steps=()) -> list[str]:
    lines = ["Kubernetes API: %s" % (api_version or "not answering through the cluster endpoint")]
    lines += node_lines(nodes) if nodes is not None or api_version else []
    lines += etcd_line(etcd)
    lines += certificate_lines(certificates)
    lines += ["next: %s" % step for step in next_steps or () if step]
    return lines
