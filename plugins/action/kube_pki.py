# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action plugin ``kubesmith.cluster.kube_pki``: the cluster PKI, built on the controller.

Documented in ``plugins/modules/kube_pki.py``. Per host: one ``pki_files`` call reads what exists, the plan is made
here with ``cryptography``, one ``pki_files`` call writes what changed. All decisions are in
``module_utils/pki/``; this file resolves options, talks to the host and shapes the result.
"""

from __future__ import absolute_import, annotations, division, print_function

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import load_balancer as lb_config
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import crypto as pki_crypto
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import engine as pki_engine
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import report as pki_report
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import (
    CA_IDS,
    KEY_ALGORITHMS,
    SERVICE_ACCOUNT,
    PkiError,
    Settings,
    inventory_view,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.plan import Summary, plan
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.specs import required_certificates, validate_reissue

PKI_FILES = "kubesmith.cluster.pki_files"

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "ca", "inspect"], default="present"),
    ca=dict(type="dict", no_log=True),
    existing_leaves=dict(type="raw"),
    reissue=dict(type="list", elements="str", default=[]),
    byo_ca=dict(type="dict", no_log=True),
    force_ca=dict(type="raw"),
    key_algorithm=dict(type="str", choices=list(KEY_ALGORITHMS)),
    ca_validity_days=dict(type="int"),
    leaf_validity_days=dict(type="int"),
    renew_before_days=dict(type="int"),
    cluster_name=dict(type="str"),
    cluster_domain=dict(type="str"),
    service_cidr=dict(type="str"),
    api_endpoint=dict(type="dict"),
    load_balancer_mode=dict(type="str", choices=["none", "vip", "local"]),
    apiserver_extra_sans=dict(type="list", elements="str"),
    pki_dir=dict(type="str"),
    etcd_pki_dir=dict(type="str"),
    kubeconfig_dir=dict(type="str"),
    control_plane_server=dict(type="str"),
    node_groups=dict(type="list", elements="str"),
)

# Options left unset on the task come from these inventory/role variables, then from the default.
VARIABLES = {
    "byo_ca": ("pki_byo_ca", {}),
    "force_ca": ("pki_force_ca", False),
    "key_algorithm": ("pki_key_algorithm", "ecdsa-p256"),
    "ca_validity_days": ("pki_ca_validity_days", 3650),
    "leaf_validity_days": ("pki_leaf_validity_days", 365),
    "renew_before_days": ("pki_renew_before_days", 30),
    "cluster_name": ("cluster_name", "kubernetes"),
    "cluster_domain": ("cluster_domain", "cluster.local"),
    "service_cidr": ("cluster_service_cidr", "10.96.0.0/12"),
    "api_endpoint": ("cluster_api_endpoint", {}),
    "load_balancer_mode": ("load_balancer_mode", "none"),
    "apiserver_extra_sans": ("pki_apiserver_extra_sans", []),
    "pki_dir": ("pki_dir", "/etc/kubernetes/pki"),
    "etcd_pki_dir": ("pki_etcd_dir", "/etc/etcd/pki"),
    "kubeconfig_dir": ("pki_kubeconfig_dir", "/etc/kubernetes"),
    "control_plane_server": ("pki_control_plane_server", "https://127.0.0.1:6443"),
    "node_groups": ("pki_node_groups", ["control_plane", "workers"]),
}

HOSTVARS = ("node_name", "node_ip", "ansible_host")


def settings_from_options(args):
    """:class:`pki.Settings` from resolved options (PkiError on nonsense)."""
    endpoint = args.get("api_endpoint") or {}
    if not isinstance(endpoint, dict):
        raise PkiError("cluster_api_endpoint must be a dict with 'host' and optional 'port' (got %r)" % (endpoint,))
    if endpoint.get("port") not in (None, "") and not str(endpoint["port"]).strip().isdigit():
        raise PkiError("cluster_api_endpoint.port must be a number (got %r)" % (endpoint.get("port"),))
    # the one rule of every role for the mode's defaults (local: 127.0.0.1:6444)
    mode = str(args.get("load_balancer_mode") or "none")
    endpoint = lb_config.api_endpoint(mode, dict(endpoint))
    return Settings(
        cluster_name=args["cluster_name"],
        cluster_domain=args["cluster_domain"],
        service_cidr=args["service_cidr"],
        api_endpoint_host=endpoint["host"],
        api_endpoint_port=endpoint["port"],
        apiserver_extra_sans=tuple(args["apiserver_extra_sans"] or ()),
        key_algorithm=args["key_algorithm"],
        ca_validity_days=args["ca_validity_days"],
        leaf_validity_days=args["leaf_validity_days"],
        renew_before_days=args["renew_before_days"],
        pki_dir=args["pki_dir"],
        etcd_pki_dir=args["etcd_pki_dir"],
        kubeconfig_dir=args["kubeconfig_dir"],
        control_plane_server=args["control_plane_server"] or None,
        node_groups=tuple(args["node_groups"] or ()),
        health_client_on_nodes=mode == "local",
    )


def leaves_by_ca(value):
    """``existing_leaves``: a dict host -> CA ids (``leaf_issuers`` of state=inspect), or a list of hosts (all CAs)."""
    if not value:
        return {}
    out = {}
    if isinstance(value, (list, tuple)):
        for host in value:
            for ca_id in CA_IDS:
                out.setdefault(ca_id, set()).add(str(host))
        return out
    if not isinstance(value, dict):
        raise PkiError("existing_leaves must map host names to CA ids, or list host names (got %r)" % (value,))
    for host, ca_ids in value.items():
        for ca_id in ca_ids or ():
            out.setdefault(str(ca_id), set()).add(str(host))
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        if pki_crypto.CRYPTOGRAPHY_IMPORT_ERROR is not None:
            result.update(
                failed=True,
                msg="kube_pki runs on the controller and needs the Python package 'cryptography' (>= 42) there: "
                "%s" % pki_crypto.CRYPTOGRAPHY_IMPORT_ERROR,
            )
            return result
        try:
            args = self._options(task_vars)
            settings = settings_from_options(args)
            view = inventory_view(
                task_vars.get("groups") or {}, self._hostvars(task_vars, settings.node_groups), settings.node_groups
            )
            host = task_vars.get("inventory_hostname")
            now = self._now()
            if args["state"] == "inspect":
                result.update(self._inspect(view, settings, host, task_vars, now))
            elif args["state"] == "ca":
                result.update(self._ca(args, view, settings, host, task_vars, now))
            else:
                result.update(self._present(args, view, settings, host, task_vars, now))
        except PkiError as exc:
            result.update(failed=True, msg=str(exc))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # -- inputs ------------------------------------------------------------------------------------------------

    @staticmethod
    def _now():
        return pki_crypto.utcnow().replace(microsecond=0)

    def _options(self, task_vars):
        raw = dict(self._task.args)
        for option, (variable, default) in VARIABLES.items():
            if raw.get(option) is None:
                raw[option] = self._templar.template(task_vars[variable]) if variable in task_vars else default
        validation = ArgumentSpecValidator(ARGUMENT_SPEC).validate(raw)
        if validation.error_messages:
            raise PkiError(
                "kube_pki: %s (options not set on the task come from the variables %s)"
                % (
                    "; ".join(validation.error_messages),
                    ", ".join("%s=%s" % (o, v) for o, (v, _d) in sorted(VARIABLES.items())),
                )
            )
        args = validation.validated_parameters
        args["byo_ca"] = self._load_byo(args.get("byo_ca") or {})
        return args

    def _load_byo(self, byo):
        """``pki_byo_ca`` entries may name controller files (``cert_file``... vault-encrypted is fine)."""
        out = {}
        for ca_id, entry in byo.items():
            if not entry:
                continue
            if not isinstance(entry, dict):
                raise PkiError("pki_byo_ca.%s must be a dict (cert/key/chain or cert_file/key_file/chain_file)" % ca_id)
            entry = dict(entry)
            for name in ("cert", "key", "chain"):
                path = entry.pop(name + "_file", None)
                if path and not entry.get(name):
                    entry[name] = self._read_controller_file(path, "pki_byo_ca.%s.%s_file" % (ca_id, name))
            out[ca_id] = entry
        return out

    def _read_controller_file(self, path, what):
        try:
            real = self._loader.get_real_file(self._find_needle("files", path), decrypt=True)
        except Exception as exc:  # noqa: BLE001 - AnsibleError, OSError: all mean "cannot read it"
            raise PkiError("%s: cannot read %s on the controller: %s" % (what, path, exc)) from None
        try:
            with open(real, encoding="ascii") as handle:
                return handle.read()
        finally:
            self._loader.cleanup_tmp_file(real)

    @staticmethod
    def _hostvars(task_vars, node_groups):
        """``node_name``/``node_ip``/``ansible_host`` of the hosts in the PKI groups (templated by hostvars)."""
        hostvars = task_vars.get("hostvars") or {}
        groups = task_vars.get("groups") or {}
        wanted = set()
        for group in ("etcd", "control_plane", "load_balancers") + tuple(node_groups):
            wanted.update(groups.get(group) or ())
        out = {}
        for host in wanted:
            if host in hostvars:
                hv = hostvars[host]
                out[host] = {name: hv[name] for name in HOSTVARS if name in hv}
        return out

    # -- remote boundary: one pki_files call to read, one to write ---------------------------------------------

    def _pki_files(self, task_vars, what, **module_args):
        # What pki_files reads and writes holds private keys. The connection prints a module's raw output at
        # -vvv unless the play context says no_log (the task's own no_log would also hide our refusals): set it
        # for this call only.
        context = self._connection._play_context
        no_log = context.no_log
        context.no_log = True
        try:
            res = self._execute_module(module_name=PKI_FILES, module_args=module_args, task_vars=task_vars)
        finally:
            context.no_log = no_log
        if res.get("failed") or res.get("unreachable"):
            raise PkiError("%s: %s" % (what, res.get("msg") or res))
        return res

    def _read(self, paths, task_vars, content=True):
        res = self._pki_files(task_vars, "reading the PKI files", state="read", paths=list(paths), content=content)
        return res.get("files") or {}

    def _write(self, entries, task_vars):
        res = self._pki_files(task_vars, "writing the PKI files", state="write", files=entries)
        return res.get("written") or [], res.get("permissions_fixed") or [], res.get("removed") or []

    # -- states ------------------------------------------------------------------------------------------------

    def _inspect(self, view, settings, host, task_vars, now):
        specs = required_certificates(view, settings, host=host)
        files = self._read(pki_engine.public_paths(specs), task_vars) if specs else {}
        certificates, issuers, missing = pki_report.inventory_certificates(specs, files, now)
        return {
            "changed": False,
            "certificates": certificates,
            "leaf_issuers": issuers,
            "missing": missing,
            "msg": "%d certificate(s) found, %d missing" % (len(certificates), len(missing)),
        }

    def _ca(self, args, view, settings, host, task_vars, now):
        target = self._task.delegate_to or host
        primary = view.primary.host
        if target != primary:
            raise PkiError(
                "state=ca must run against the primary control-plane host %s (first host of group control_plane), "
                "not %s: use run_once: true and delegate_to: \"{{ groups['control_plane'][0] }}\"" % (primary, target)
            )
        specs = required_certificates(view, settings, host=primary)
        files = self._read(pki_engine.read_paths(specs), task_vars)
        material, changes, entries, warnings = pki_engine.resolve_material(
            specs,
            files,
            settings,
            byo=args["byo_ca"],
            force_ca=args["force_ca"],
            leaves_elsewhere=leaves_by_ca(args.get("existing_leaves")),
            now=now,
        )
        written = []
        if entries and not self._task.check_mode:
            written, _fixed, _removed = self._write(entries, task_vars)
        summary = material.summary(now)
        for key, change in changes.items():
            summary[key]["change"] = change
        changed_ids = [key for key in CA_IDS + (SERVICE_ACCOUNT,) if changes[key] != "existing"]
        result = {
            "changed": bool(entries),
            "ca": material.to_dict(),
            "cas": summary,
            "written": written,
            "msg": ("CA material: %s" % ", ".join("%s %s" % (k, changes[k]) for k in changed_ids))
            if changed_ids
            else "CA material read from %s" % primary,
            # the private keys travel in 'ca': never display this result
            "_ansible_no_log": True,
        }
        if warnings:
            result["warnings"] = warnings
        return result

    def _present(self, args, view, settings, host, task_vars, now):
        reissue = validate_reissue(args["reissue"])
        material = pki_engine.Material.from_dict(args.get("ca"), now)
        specs = required_certificates(view, settings, host=host)
        if not specs:
            return {
                "changed": False,
                "changes": [],
                "msg": "%s holds no PKI files (not in etcd, control_plane or %s)"
                % (host, "/".join(settings.node_groups)),
            }
        files = self._read(pki_engine.read_paths(specs), task_vars)
        observed, existing = pki_engine.observe(specs, files, material, settings)
        actions = plan(specs, observed, now, settings, material.not_after(), reissue)
        outcome = None
        written = fixed = removed = []
        if actions and not self._task.check_mode:
            outcome = pki_engine.materialize(actions, existing, material, settings, files, now)
            written, fixed, removed = self._write(outcome.entries, task_vars)
        items = pki_report.describe_plan(actions, outcome, material, settings, now)
        result = {
            "changed": bool(actions),
            "changes": items,
            "issued": [item["name"] for item in items if item["operation"] == "issue"],
            "written": written,
            "permissions_fixed": fixed,
            "removed": removed,
            "msg": Summary.of(actions).message(),
        }
        if self._task.diff and actions:
            result["diff"] = pki_report.diff(actions, items, files, existing, host, now)
        return result
