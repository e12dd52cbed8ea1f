# -*- coding: utf-8 -*-
"""Encryption-at-rest key rotation: where it stands and what is left (playbooks/rotate_encryption_key.yml).

Pure functions over the EncryptionConfiguration documents of every control-plane host (parsed YAML, in the
order the playbook walks the hosts). A rotation from key A to a new key B goes through four phases, each one
applied to one apiserver at a time so that every apiserver can always read what any other one writes:

    all [A]  --add-->  [A, B]  --primary-->  [B, A]  --rewrite (every Secret)-->  --remove-->  [B]

``plan(hosts, ...)`` reads the phase from the hosts' key lists, including a run interrupted half-way through a
phase (some hosts done, others not), and returns the stages still to run with each stage's key list. States
that no rotation produces (unrelated keys, one name with different secrets or providers, a host with only the
old key while another already encrypts with the new one) are refused with what to fix.

A rotation also moves the cluster to another provider (aescbc -> secretbox): the new key is made for the
inventory's ``control_plane_encryption_provider`` and each key keeps its own provider while both are listed, so
``[A (aescbc), B (secretbox)]`` renders as two provider entries (``kube_config.encryption_config``).

Key material is only in the returned ``keys``/``old``/``new`` entries; messages and ``summary`` name keys, never
their secrets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import re

PHASES = ("add", "primary", "rewrite", "remove")
ENCRYPTING = ("aescbc", "secretbox", "aesgcm")
_KEY_N = re.compile(r"^key(\d+)$")


class RotationError(Exception):
    """A state the planner refuses; the message says what to fix and never carries a secret."""


def parse_config(host, doc, path="/etc/kubernetes/encryption-config.yaml"):
    """One host's EncryptionConfiguration -> ``{"host", "provider", "keys": [{name, secret, provider}],
    "resources", "identity_fallback"}``. Only kubesmith's shape is understood: one resources entry whose
    providers encrypt (aescbc, secretbox, aesgcm; two of them while a rotation changes the provider) and an
    optional ``identity`` last. ``provider`` is the first one: the provider new writes use."""
    where = "%s: %s" % (host, path)
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        raise RotationError("%s is missing or not an EncryptionConfiguration: run site.yml first" % where)
    resources = doc.get("resources")
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], dict):
        raise RotationError("%s: expected one resources entry (as kubesmith writes it), found another layout" % where)
    entry = resources[0]
    providers = entry.get("providers") or []
    if not isinstance(providers, list) or not providers or not all(isinstance(p, dict) for p in providers):
        raise RotationError("%s: no providers" % where)
    if any(len(p) != 1 for p in providers):
        raise RotationError("%s: a provider entry must name one provider" % where)
    names = [next(iter(p)) for p in providers]
    if names[0] == "identity":
        raise RotationError(
            "%s: identity comes first, so nothing is encrypted at rest; there is no key to rotate" % where
        )
    fallback = names[-1] == "identity"
    encrypting = names[:-1] if fallback else names
    if "identity" in encrypting or any(name not in ENCRYPTING for name in encrypting):
        raise RotationError(
            "%s: providers %s: kubesmith writes %s, then identity last; change this file by hand"
            % (where, ", ".join(names), " or ".join(ENCRYPTING))
        )
    out = []
    for provider, entry_body in zip(encrypting, providers):
        body = entry_body[provider] or {}
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not keys:
            raise RotationError("%s: provider %s has no keys" % (where, provider))
        for key in keys:
            if not isinstance(key, dict) or not key.get("name") or not key.get("secret"):
                raise RotationError("%s: every key needs a name and a secret" % where)
            out.append({"name": str(key["name"]), "secret": str(key["secret"]), "provider": provider})
    return {
        "host": host,
        "provider": encrypting[0],
        "keys": out,
        "resources": [str(r) for r in entry.get("resources") or []],
        "identity_fallback": fallback,
    }


def new_key_name(names):
    """The next free ``keyN``: one more than the highest N in use (``key1`` when none is numbered)."""
    numbers = [int(m.group(1)) for m in (_KEY_N.match(n) for n in names) if m]
    number = max(numbers) + 1 if numbers else 1
    while "key%d" % number in names:
        number += 1
    return "key%d" % number


def new_secret():
    """base64 of 32 random bytes: a valid key for aescbc, secretbox and aesgcm."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def _names(state):
    return [k["name"] for k in state["keys"]]


def _newer(first, second, fallback):
    """Which of two key names is the rotation's new key. Keys this planner makes are ``keyN`` one above the
    highest in use, so: the higher keyN, else the only keyN, else ``fallback`` (read from the walking order: the
    first host is always updated first)."""
    a, b = _KEY_N.match(first), _KEY_N.match(second)
    if a and b and int(a.group(1)) != int(b.group(1)):
        return first if int(a.group(1)) > int(b.group(1)) else second
    if bool(a) != bool(b):
        return first if a else second
    return fallback


def plan(states, expected_provider=None, stop_after="", secret=None):
    """What is left of the rotation. ``states``: ``parse_config`` results in walking order (the playbook's
    order of control-plane hosts). ``expected_provider``: the inventory's provider, the one a new rotation's key
    is made for (a cluster on another provider moves to it); None keeps the provider in use. ``stop_after``: end
    after this phase (tests). ``secret``: the new key's secret when a rotation starts (default: 32 random bytes).

    Returns ``{"phase", "old", "new", "stages": [{"name", "keys"}], "provider", "resources",
    "identity_fallback", "summary", "hosts": {host: [names]}}``; ``keys`` of a stage is the key list every host
    gets in it (None for ``rewrite``), each key with its ``provider``; ``provider`` is the new key's."""
    if stop_after not in ("", None) + PHASES:
        raise RotationError("stop after %r: must be one of %s (or empty)" % (stop_after, ", ".join(PHASES)))
    if not states:
        raise RotationError("no control-plane host to rotate the encryption key on")
    if expected_provider and expected_provider not in ENCRYPTING:
        raise RotationError(
            "control_plane_encryption_provider %r is not one of %s" % (expected_provider, ", ".join(ENCRYPTING))
        )
    layouts = {(tuple(s["resources"]), s["identity_fallback"]) for s in states}
    if len(layouts) != 1:
        raise RotationError(
            "the apiservers' configurations list different resources or identity fallbacks: run site.yml to make "
            "them the same first"
        )
    secrets = {}  # name -> (secret, provider, host it was first seen on)
    for s in states:
        if len(set(_names(s))) != len(s["keys"]):
            raise RotationError("%s: a key name is used twice in its encryption configuration" % s["host"])
        for key in s["keys"]:
            seen = secrets.setdefault(key["name"], (key["secret"], key["provider"], s["host"]))
            if seen[0] != key["secret"]:
                raise RotationError(
                    "key %s has a different secret on %s than on %s: one of them cannot read what the other "
                    "writes; restore the same key on both (from a backup of encryption-config.yaml)"
                    % (key["name"], s["host"], seen[2])
                )
            if seen[1] != key["provider"]:
                raise RotationError(
                    "key %s is listed under %s on %s but under %s on %s: make every encryption-config.yaml list it "
                    "under the same provider (from a backup)"
                    % (key["name"], seen[1], seen[2], key["provider"], s["host"])
                )
    names = sorted(secrets)
    lists = [tuple(_names(s)) for s in states]
    hosts = {s["host"]: list(_names(s)) for s in states}
    describe = ", ".join("%s=[%s]" % (s["host"], ",".join(_names(s))) for s in states)

    def key(name):
        return {"name": name, "secret": secrets[name][0], "provider": secrets[name][1]}

    if len(names) == 1:
        old = names[0]
        new = new_key_name(names)
        secrets[new] = (secret or new_secret(), expected_provider or secrets[old][1], None)
        phase = "add"
        summary = "new rotation: %s -> %s (new key generated)" % (old, new)
        if secrets[new][1] != secrets[old][1]:
            summary += "; the provider changes from %s to %s" % (secrets[old][1], secrets[new][1])
    elif len(names) == 2:
        if any(len(item) > 2 for item in lists):
            raise RotationError("unexpected key lists (%s): at most two keys during a rotation" % describe)
        singles = {item[0] for item in lists if len(item) == 1}
        pairs = {item for item in lists if len(item) == 2}
        if len(singles) > 1:
            raise RotationError(
                "some apiservers know only %s: they cannot read what the others write; give every "
                "apiserver the same keys (%s)" % (" and some only ".join(sorted(singles)), describe)
            )
        if singles:
            only = next(iter(singles))
            other = next(n for n in names if n != only)
            if len(pairs) != 1 or next(iter(pairs))[0] != only:
                raise RotationError(
                    "some apiservers know only %s while others already encrypt with %s: they cannot read each "
                    "other's writes; put both keys on every apiserver (%s)" % (only, other, describe)
                )
            # [X] and [X, Y]: adding Y (the first host has the pair) or removing Y (the first host has X alone)
            new = _newer(only, other, only if len(lists[0]) == 1 else other)
            old = other if new == only else only
            phase = "remove" if new == only else "add"
        else:
            heads = {p[0] for p in pairs}
            if len(heads) == 1:
                head = next(iter(heads))
                other = next(n for n in names if n != head)
                # all [A, B] (B added, A still encrypts) or all [B, A] (B encrypts): the newer key tells which
                new = _newer(head, other, head)
                old = other if new == head else head
                phase = "rewrite" if head == new else "primary"
            else:
                new = _newer(lists[0][0], lists[0][1], lists[0][0])
                old = next(n for n in names if n != new)
                phase = "primary"
        summary = "rotation %s -> %s in progress, resuming at phase %s (%s)" % (old, new, phase, describe)
        if expected_provider and secrets[new][1] != expected_provider:
            summary += (
                "; it finishes on %s: run the rotation again afterwards to move to control_plane_encryption_provider "
                "%s" % (secrets[new][1], expected_provider)
            )
    else:
        raise RotationError(
            "the apiservers know %d keys (%s): a rotation has one old and one new key; make every "
            "encryption-config.yaml list the same one or two keys first" % (len(names), describe)
        )
    lists_by_phase = {
        "add": [key(old), key(new)],
        "primary": [key(new), key(old)],
        "rewrite": None,
        "remove": [key(new)],
    }
    stages = [{"name": p, "keys": lists_by_phase[p]} for p in PHASES[PHASES.index(phase) :]]
    if stop_after and stop_after in [s["name"] for s in stages]:
        stages = stages[: [s["name"] for s in stages].index(stop_after) + 1]
        summary += "; stopping after phase %s" % stop_after
    return {
        "phase": phase,
        "old": key(old),
        "new": key(new),
        "stages": stages,
        "stage_names": [s["name"] for s in stages],
        "provider": secrets[new][1],
        "resources": states[0]["resources"],
        "identity_fallback": states[0]["identity_fallback"],
        "summary": summary,
        "hosts": hosts,
    }


def haproxy_server_status(csv_text, backend, server):
    """The status (UP, DOWN, MAINT, "UP 1/2"...) of one server in haproxy's ``/stats;csv``; None if absent."""
    header = None
    for line in (csv_text or "").splitlines():
        if line.startswith("# "):
            header = line[2:].split(",")
            continue
        fields = line.split(",")
        if header and len(fields) >= 2 and fields[0] == backend and fields[1] == server:
            return fields[header.index("status")] if "status" in header else None
    return None


def leftovers(ranges, provider, name):
    """Keys of objects stored under another key than ``name``: ``ranges`` are etcd's JSON answers to
    ``/v3/kv/range`` (keys and values base64). Values written with key ``name`` start with
    ``k8s:enc:<provider>:v1:<name>:``."""
    prefix = ("k8s:enc:%s:v1:%s:" % (provider, name)).encode("ascii")
    out = []
    for answer in ranges or []:
        for kv in (answer or {}).get("kvs") or []:
            value = base64.b64decode(kv.get("value") or "")
            if not value.startswith(prefix):
                out.append(base64.b64decode(kv.get("key") or "").decode("utf-8", "replace"))
    return out


def _describe(state):
    return "%s: %s %s" % (state["host"], state["provider"], ", ".join(_names(state)))


def site_keys(reads, pinned=None, expected_provider="aescbc", secrets_stored=None, check_mode=False, secret=None):
    """The encryption keys site.yml writes to every apiserver, chosen so that no run loses a key in use.

    ``reads``: ``[{"host", "config"}]`` for every control-plane host in inventory order; ``config`` is the parsed
    encryption-config.yaml, or None when that host has none (rebuilt, replaced, never built).
    ``pinned``: ``control_plane_encryption_keys`` ([] when the keys on the hosts are kept).
    ``secrets_stored``: how many Secrets etcd holds (None: not asked, or etcd did not answer); only consulted when
    no host has a configuration.

    Returns ``{"keys", "provider", "source", "restore", "notice", "error"}``: ``source`` is ``inventory``, the host
    the keys were read from, or ``new``; ``restore`` the hosts that lack the file and get it from a peer. A
    refusal is returned in ``error`` (never raised: the caller hides the keys with no_log and shows the error on
    its own); messages name keys and hosts, never secrets.
    """
    states, missing = [], []
    try:
        for read in reads:
            if read.get("config") in (None, ""):
                missing.append(str(read["host"]))
            else:
                states.append(parse_config(str(read["host"]), read["config"]))
    except RotationError as exc:
        return _refusal(str(exc))
    provider = states[0]["provider"] if states else expected_provider
    notice = ""
    if states and expected_provider and provider != expected_provider:
        notice = (
            "the cluster encrypts with %s: kept (control_plane_encryption_provider=%s applies to new clusters; "
            "rotate_encryption_key.yml moves a running cluster to it)" % (provider, expected_provider)
        )
    if pinned:
        secrets = {str(k.get("secret")) for k in pinned if isinstance(k, dict)}
        for state in states:
            if not secrets.intersection(k["secret"] for k in state["keys"]):
                return _refusal(
                    "control_plane_encryption_keys shares no key with the configuration in use on %s: Secrets "
                    "written with those keys would become unreadable. Add the key in use (its secret is in %s's "
                    "encryption config) to control_plane_encryption_keys. Nothing was changed."
                    % (_describe(state), state["host"])
                )
        return _choice(list(pinned), provider, "inventory", missing, notice)
    if states:
        first = states[0]
        differ = [s for s in states[1:] if (s["provider"], s["keys"]) != (first["provider"], first["keys"])]
        if differ:
            return _refusal(
                "the encryption configurations of the control-plane hosts differ (%s): a key rotation was "
                "interrupted? Finish it with rotate_encryption_key.yml. site.yml writes one configuration to every "
                "apiserver and could drop a key in use. Nothing was changed."
                % "; ".join(_describe(s) for s in [first] + differ)
            )
        return _choice(first["keys"], provider, first["host"], missing, notice)
    if secrets_stored is None and not check_mode:
        return _refusal(
            "no control-plane host has an encryption configuration and etcd could not be asked whether it holds "
            "Secrets: a new key is made only for a cluster without Secrets. Bring etcd up, or put the file back "
            "on a control-plane host. Nothing was changed."
        )
    if secrets_stored:
        return _refusal(
            "no control-plane host has an encryption configuration (%s), but etcd holds %d Secret(s) encrypted "
            "with the key that was in it: a new key would leave every one of them unreadable. Put the file back "
            "on a control-plane host (from a backup of /etc/kubernetes), or set control_plane_encryption_keys to "
            "the keys in use. Nothing was changed." % (", ".join(missing), int(secrets_stored))
        )
    return _choice([{"name": "key1", "secret": secret or new_secret()}], provider, "new", [], notice)


def _choice(keys, provider, source, restore, notice):
    return {"keys": keys, "provider": provider, "source": source, "restore": restore, "notice": notice, "error": ""}


def _refusal(message):
    return {"keys": [], "provider": "", "source": "", "restore": [], "notice": "", "error": message}
