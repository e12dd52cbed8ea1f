"""Unit tests for plugins/module_utils/kube/config.py: every component rendered for every supported minor and
checked against the version table."""

import base64
import os

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import config as kc
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import control_plane as kcp
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import node_components as knc
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kv

MINORS = kv.SUPPORTED_MINORS
VERSIONS = {"1.20": "v1.20.2+kubesmith.1", "1.35": "v1.35.4", "1.36": "1.36.0", "1.37": "v1.37.1"}

BASE = {
    "advertise_address": "10.0.0.11",
    "etcd_servers": ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"],
    "node_name": "cp1",
    "node_ip": "10.0.0.11",
}


def settings(**extra):
    out = dict(BASE)
    out.update(extra)
    return out


def flags(args):
    """{name: value} of a rendered flag list; also checks that no flag is given twice."""
    out = {}
    for arg in args:
        assert arg.startswith("--") and "=" in arg, arg
        name, value = arg.split("=", 1)
        assert name not in out, "flag given twice: %s" % name
        out[name] = value
    return out


ARGS = {
    "kube-apiserver": kcp.apiserver_args,
    "kube-controller-manager": kcp.controller_manager_args,
    "kube-scheduler": kcp.scheduler_args,
    "kubelet": knc.kubelet_args,
    "kube-proxy": knc.kube_proxy_args,
}


def test_versions_cover_every_supported_minor():
    assert sorted(VERSIONS) == sorted(MINORS)


# --------------------------------------------------------------------------- every component, every minor


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("component", sorted(ARGS))
def test_no_removed_flag_is_ever_rendered(minor, component):
    every_option = settings(
        node_labels={"pool": "apps"},
        node_taints=["dedicated=ops:NoSchedule"],
        kubelet_root_dir="/var/lib/kubelet",
        feature_gates={"SomeGate": True},
        cluster_signing_duration="8760h",
        service_node_port_range="30000-32767",
    )
    rendered = flags(ARGS[component](VERSIONS[minor], every_option))
    removed = set(kv.lookup(minor).removed_flags[component])
    assert not removed & set(rendered), removed & set(rendered)


@pytest.mark.parametrize("minor", MINORS)
def test_apiserver(minor):
    info = kv.lookup(minor)
    f = flags(kcp.apiserver_args(VERSIONS[minor], settings()))
    required = {
        "--advertise-address": "10.0.0.11",
        "--secure-port": "6443",
        "--authorization-mode": "Node,RBAC",
        "--enable-admission-plugins": "NodeRestriction",
        "--anonymous-auth": "false",
        "--profiling": "false",
        "--allow-privileged": "true",
        "--client-ca-file": "/etc/kubernetes/pki/ca.crt",
        "--tls-cert-file": "/etc/kubernetes/pki/apiserver.crt",
        "--tls-private-key-file": "/etc/kubernetes/pki/apiserver.key",
        "--tls-min-version": "VersionTLS12",
        "--kubelet-client-certificate": "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
        "--kubelet-client-key": "/etc/kubernetes/pki/apiserver-kubelet-client.key",
        "--kubelet-certificate-authority": "/etc/kubernetes/pki/ca.crt",
        "--kubelet-preferred-address-types": "InternalIP,Hostname",
        "--etcd-servers": "https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379",
        "--etcd-cafile": "/etc/etcd/pki/ca.crt",
        "--etcd-certfile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "--etcd-keyfile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
        "--service-cluster-ip-range": "10.96.0.0/12",
        "--service-account-issuer": "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file": "/etc/kubernetes/pki/sa.pub",
        "--service-account-signing-key-file": "/etc/kubernetes/pki/sa.key",
        "--requestheader-client-ca-file": "/etc/kubernetes/pki/front-proxy-ca.crt",
        "--requestheader-allowed-names": "front-proxy-client",
        "--requestheader-username-headers": "X-Remote-User",
        "--requestheader-group-headers": "X-Remote-Group",
        "--requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "--proxy-client-cert-file": "/etc/kubernetes/pki/front-proxy-client.crt",
        "--proxy-client-key-file": "/etc/kubernetes/pki/front-proxy-client.key",
        "--enable-aggregator-routing": "true",
        "--encryption-provider-config": "/etc/kubernetes/encryption-config.yaml",
        "--audit-policy-file": "/etc/kubernetes/audit-policy.yaml",
        "--audit-log-path": "/var/log/kubernetes/audit/audit.log",
        "--audit-log-maxage": "30",
        "--audit-log-maxbackup": "10",
        "--audit-log-maxsize": "100",
    }
    for name, value in required.items():
        assert f.get(name) == value, (minor, name, f.get(name))
    assert ("--insecure-port" in f) is info.apiserver_insecure_port_flag
    if info.apiserver_insecure_port_flag:
        assert f["--insecure-port"] == "0"
    assert (f.get("--encryption-provider-config-automatic-reload") == "true") is info.encryption_config_automatic_reload
    assert "--authentication-config" not in f
    assert "--feature-gates" not in f


@pytest.mark.parametrize("minor", MINORS)
def test_controller_manager(minor):
    info = kv.lookup(minor)
    f = flags(kcp.controller_manager_args(VERSIONS[minor], settings(pod_cidr="10.200.0.0/16", node_cidr_mask=25)))
    conf = "/etc/kubernetes/controller-manager.conf"
    assert f["--bind-address"] == "127.0.0.1"
    assert f["--kubeconfig"] == f["--authentication-kubeconfig"] == f["--authorization-kubeconfig"] == conf
    assert f["--leader-elect"] == "true"
    assert f["--use-service-account-credentials"] == "true"
    assert f["--cluster-signing-cert-file"] == "/etc/kubernetes/pki/ca.crt"
    assert f["--cluster-signing-key-file"] == "/etc/kubernetes/pki/ca.key"
    assert f["--root-ca-file"] == "/etc/kubernetes/pki/ca.crt"
    assert f["--service-account-private-key-file"] == "/etc/kubernetes/pki/sa.key"
    assert f["--allocate-node-cidrs"] == "true"
    assert f["--cluster-cidr"] == "10.200.0.0/16"
    assert f["--node-cidr-mask-size"] == "25"
    assert f["--service-cluster-ip-range"] == "10.96.0.0/12"
    assert f["--profiling"] == "false"
    assert (f.get("--port") == "0") is info.component_insecure_port_flag
    assert "--cluster-signing-duration" not in f


@pytest.mark.parametrize("minor", MINORS)
def test_scheduler(minor):
    info = kv.lookup(minor)
    config = kcp.scheduler_config(VERSIONS[minor], settings())
    assert config["apiVersion"] == info.scheduler_config_api
    assert config["kind"] == "KubeSchedulerConfiguration"
    assert config["clientConnection"] == {"kubeconfig": "/etc/kubernetes/scheduler.conf"}
    assert config["leaderElection"] == {"leaderElect": True}
    assert config["enableProfiling"] is False
    f = flags(kcp.scheduler_args(VERSIONS[minor], settings()))
    assert f["--bind-address"] == "127.0.0.1"
    assert f["--authentication-kubeconfig"] == f["--authorization-kubeconfig"] == "/etc/kubernetes/scheduler.conf"
    assert (f.get("--port") == "0") is info.component_insecure_port_flag
    if info.scheduler_uses_config_file:
        assert f["--config"] == "/etc/kubernetes/kube-scheduler.yaml"
        assert "--kubeconfig" not in f and "--leader-elect" not in f
    else:  # 1.20: a config file would reopen the insecure port; same settings as flags
        assert "--config" not in f
        assert f["--kubeconfig"] == "/etc/kubernetes/scheduler.conf"
        assert f["--leader-elect"] == "true"
        assert f["--profiling"] == "false"


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet(minor):
    info = kv.lookup(minor)
    config = knc.kubelet_config(VERSIONS[minor], settings(cgroup_driver="cgroupfs"))
    assert config["apiVersion"] == info.kubelet_config_api
    assert config["kind"] == "KubeletConfiguration"
    assert config["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
    }
    assert config["authorization"] == {"mode": "Webhook"}
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["clusterDNS"] == ["10.96.0.10"]
    assert config["clusterDomain"] == "cluster.local"
    assert config["tlsCertFile"] == "/etc/kubernetes/pki/kubelet.crt"
    assert config["tlsPrivateKeyFile"] == "/etc/kubernetes/pki/kubelet.key"
    assert config["readOnlyPort"] == 0
    assert config["rotateCertificates"] is False
    assert config["serverTLSBootstrap"] is False
    assert config["address"] == "10.0.0.11"
    assert ("containerRuntimeEndpoint" in config) is info.kubelet_runtime_endpoint_in_config
    assert "failCgroupV1" not in config  # only when asked
    f = flags(knc.kubelet_args(VERSIONS[minor], settings()))
    assert f["--config"] == "/etc/kubernetes/kubelet-config.yaml"
    assert f["--kubeconfig"] == "/etc/kubernetes/kubelet.conf"
    assert f["--hostname-override"] == "cp1"
    assert f["--node-ip"] == "10.0.0.11"
    assert (f.get("--container-runtime") == "remote") is info.kubelet_container_runtime_flag
    endpoint = "unix:///run/containerd/containerd.sock"
    if info.kubelet_runtime_endpoint_in_config:
        assert config["containerRuntimeEndpoint"] == endpoint
        assert "--container-runtime-endpoint" not in f
    else:
        assert f["--container-runtime-endpoint"] == endpoint


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet_taints_go_where_the_version_reads_them(minor):
    info = kv.lookup(minor)
    s = settings(
        node_taints=[
            "node-role.kubernetes.io/control-plane:NoSchedule",
            {"key": "a", "value": "b", "effect": "NoExecute"},
        ]
    )
    config = knc.kubelet_config(VERSIONS[minor], s)
    f = flags(knc.kubelet_args(VERSIONS[minor], s))
    taints = [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
        {"key": "a", "value": "b", "effect": "NoExecute"},
    ]
    if info.kubelet_taints_in_config:
        assert config["registerWithTaints"] == taints
        assert "--register-with-taints" not in f
    else:
        assert "registerWithTaints" not in config
        assert f["--register-with-taints"] == "node-role.kubernetes.io/control-plane:NoSchedule,a=b:NoExecute"


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet_fail_cgroup_v1_only_where_the_field_exists(minor):
    info = kv.lookup(minor)
    config = knc.kubelet_config(VERSIONS[minor], settings(fail_cgroup_v1=False))
    if info.kubelet_fail_cgroup_v1_default:
        assert config["failCgroupV1"] is False
    else:
        assert "failCgroupV1" not in config


@pytest.mark.parametrize("minor", MINORS)
def test_kube_proxy(minor):
    info = kv.lookup(minor)
    config = knc.kube_proxy_config(VERSIONS[minor], settings(conntrack_max_per_core=0))
    assert config["apiVersion"] == info.kube_proxy_config_api
    assert config["kind"] == "KubeProxyConfiguration"
    assert config["mode"] == "iptables"
    assert config["clusterCIDR"] == "10.244.0.0/16"
    assert config["clientConnection"] == {"kubeconfig": "/etc/kubernetes/kube-proxy.conf"}
    assert config["hostnameOverride"] == "cp1"
    assert config["bindAddress"] == "10.0.0.11"
    assert config["metricsBindAddress"].startswith("127.0.0.1:")
    assert config["conntrack"] == {"maxPerCore": 0}
    assert knc.kube_proxy_args(VERSIONS[minor], settings()) == ["--config=/etc/kubernetes/kube-proxy.yaml"]


@pytest.mark.parametrize("minor", MINORS)
def test_audit_and_encryption_api_versions_follow_the_table(minor):
    info = kv.lookup(minor)
    assert kcp.audit_policy(VERSIONS[minor])["apiVersion"] == info.audit_policy_api
    keys = [{"name": "k1", "secret": base64.b64encode(b"\0" * 32).decode()}]
    assert kcp.encryption_config(keys, version=VERSIONS[minor])["apiVersion"] == info.encryption_config_api


# --------------------------------------------------------------------------- anonymous access to health endpoints


def test_anonymous_health_on_versions_that_can_restrict_it():
    s = settings(apiserver_anonymous_health=True)
    for minor in ("1.35", "1.36", "1.37"):
        f = flags(kcp.apiserver_args(VERSIONS[minor], s))
        assert "--anonymous-auth" not in f  # mutually exclusive with the file's anonymous section
        assert f["--authentication-config"] == "/etc/kubernetes/authentication-config.yaml"
        config = kcp.authentication_config(VERSIONS[minor], s)
        assert config == {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "AuthenticationConfiguration",
            "anonymous": {
                "enabled": True,
                "conditions": [{"path": "/livez"}, {"path": "/readyz"}, {"path": "/healthz"}],
            },
        }


def test_anonymous_health_refused_on_1_20():
    s = settings(apiserver_anonymous_health=True)
    with pytest.raises(kc.KubeConfigError, match="1.20 does not have.*client certificate"):
        kcp.apiserver_args("v1.20.2", s)
    with pytest.raises(kc.KubeConfigError, match="1.20 does not have"):
        kcp.authentication_config("v1.20.2", s)


@pytest.mark.parametrize("minor", MINORS)
def test_no_authentication_config_by_default(minor):
    assert kcp.authentication_config(VERSIONS[minor], settings()) is None


# --------------------------------------------------------------------------- extra args and overrides


def test_extra_args_replace_in_place_drop_and_append_sorted():
    s = settings(
        apiserver_extra_args={
            "--audit-log-maxage": 7,  # replaced where it was
            "enable-aggregator-routing": None,  # dropped
            "v": 2,  # appended...
            "event-ttl": "2h",  # ...in name order
            "enable-admission-plugins": ["NodeRestriction", "PodSecurity"],
            "not-there": None,  # dropping an absent flag is fine
        }
    )
    args = kcp.apiserver_args("v1.37.0", s)
    f = flags(args)
    assert f["--audit-log-maxage"] == "7"
    assert f["--enable-admission-plugins"] == "NodeRestriction,PodSecurity"
    assert "--enable-aggregator-routing" not in f
    assert args[-2:] == ["--event-ttl=2h", "--v=2"]
    assert args.index("--audit-log-maxage=7") < args.index("--profiling=false")


def test_extra_args_refuse_flags_the_version_does_not_have():
    with pytest.raises(kc.KubeConfigError, match="--insecure-port does not exist in kube-apiserver 1.37; remove it"):
        kcp.apiserver_args("v1.37.0", settings(apiserver_extra_args={"insecure-port": 0}))
    with pytest.raises(kc.KubeConfigError, match="kubelet_extra_args: --container-runtime does not exist"):
        knc.kubelet_args("v1.35.0", settings(kubelet_extra_args={"container-runtime": "remote"}))
    # the same flag is fine where it exists
    assert "--insecure-port=0" in kcp.apiserver_args("v1.20.2", settings(apiserver_extra_args={"insecure-port": 0}))


@pytest.mark.parametrize("name", ["", "--", "a=b", "two words"])
def test_extra_args_refuse_bad_names(name):
    with pytest.raises(kc.KubeConfigError, match="is not a flag name"):
        knc.kube_proxy_args("v1.37.0", settings(kube_proxy_extra_args={name: "x"}))


def test_feature_gates_everywhere():
    s = settings(feature_gates={"B": False, "A": True})
    for func in (kcp.apiserver_args, kcp.controller_manager_args, kcp.scheduler_args):
        assert flags(func("v1.37.0", s))["--feature-gates"] == "A=true,B=false"
    assert knc.kubelet_config("v1.37.0", s)["featureGates"] == {"A": True, "B": False}
    assert knc.kube_proxy_config("v1.37.0", s)["featureGates"] == {"A": True, "B": False}


def test_config_overrides_deep_merge():
    s = settings(
        kubelet_config_overrides={"authentication": {"webhook": {"cacheTTL": "30s"}}, "maxPods": 50},
        kube_proxy_config_overrides={"iptables": {"masqueradeAll": True}},
        scheduler_config_overrides={"leaderElection": {"leaseDuration": "30s"}},
    )
    kubelet = knc.kubelet_config("v1.37.0", s)
    assert kubelet["authentication"]["webhook"] == {"enabled": True, "cacheTTL": "30s"}
    assert kubelet["authentication"]["anonymous"] == {"enabled": False}
    assert kubelet["maxPods"] == 50
    assert knc.kube_proxy_config("v1.37.0", s)["iptables"] == {"masqueradeAll": True}
    assert kcp.scheduler_config("v1.37.0", s)["leaderElection"] == {"leaderElect": True, "leaseDuration": "30s"}


def test_overrides_cannot_change_the_api_version():
    with pytest.raises(kc.KubeConfigError, match="reads 'kubelet.config.k8s.io/v1beta1'"):
        knc.kubelet_config("v1.37.0", settings(kubelet_config_overrides={"apiVersion": "kubelet.config.k8s.io/v1"}))


def test_scheduler_overrides_refused_where_the_scheduler_runs_from_flags():
    s = settings(scheduler_config_overrides={"percentageOfNodesToScore": 50})
    assert kcp.scheduler_args("v1.37.0", s)
    with pytest.raises(kc.KubeConfigError, match="use scheduler_extra_args"):
        kcp.scheduler_args("v1.20.2", s)


def test_defaults_are_not_shared_between_calls():
    s = settings(kubelet_config_overrides={"authentication": {"anonymous": {"enabled": True}}})
    knc.kubelet_config("v1.37.0", s)
    assert knc.kubelet_config("v1.37.0", settings())["authentication"]["anonymous"] == {"enabled": False}
    assert kc.DEFAULTS["admission_plugins"] == ["NodeRestriction"]


# --------------------------------------------------------------------------- settings validation


@pytest.mark.parametrize(
    "func, extra, match",
    [
        (kcp.apiserver_args, {"advertise_addres": "10.0.0.1"}, "unknown setting\\(s\\) advertise_addres"),
        (kcp.apiserver_args, {"advertise_address": None}, "advertise_address is required to render kube-apiserver"),
        (kcp.apiserver_args, {"advertise_address": "127.0.0.1"}, "advertise_address 127.0.0.1 cannot be used"),
        (kcp.apiserver_args, {"etcd_servers": []}, "etcd_servers is required"),
        (kcp.apiserver_args, {"etcd_servers": ["http://10.0.0.1:2379"]}, "is not an https:// URL"),
        (kcp.apiserver_args, {"admission_plugins": ["PodSecurity"]}, "must keep NodeRestriction"),
        (kcp.apiserver_args, {"apiserver_port": 70000}, "apiserver_port must be a TCP port"),
        (kcp.apiserver_args, {"service_cidr": "10.96.0.1/12"}, "service_cidr '10.96.0.1/12' is not a network"),
        (kcp.apiserver_args, {"pod_cidr": "10.96.0.0/16"}, "overlap"),
        (kcp.apiserver_args, {"pod_cidr": "fd00::/48"}, "same IP family"),
        (kcp.apiserver_args, {"allow_privileged": "false"}, "allow_privileged must be true or false"),
        (kcp.apiserver_args, {"pki_dir": "etc/pki"}, "pki_dir must be an absolute path"),
        (kcp.apiserver_args, {"audit_policy_file": "audit.yaml"}, "audit_policy_file must be an absolute path"),
        (kcp.apiserver_args, {"cluster_domain": "Cluster_Local"}, "is not a DNS domain"),
        (kcp.controller_manager_args, {"node_cidr_mask": 16}, "must be longer than pod_cidr's prefix"),
        (kcp.controller_manager_args, {"node_cidr_mask": "x"}, "node_cidr_mask must be a whole number"),
        (knc.kubelet_config, {"node_ip": "127.0.0.1"}, "kubelet refuses a loopback node IP"),
        (knc.kubelet_config, {"node_ip": "0.0.0.0"}, "node_ip 0.0.0.0 cannot be used"),  # noqa: S104
        (knc.kubelet_config, {"node_ip": "node1"}, "node_ip 'node1' is not an IP address"),
        (knc.kubelet_config, {"cgroup_driver": "systemD"}, "cgroup_driver must be one of systemd, cgroupfs"),
        (knc.kubelet_config, {"cluster_dns_ip": "10.100.0.10", "service_cidr": "10.96.0.0/16"}, "outside"),
        (knc.kubelet_config, {"cri_socket": "/run/containerd/containerd.sock"}, "unix:/// URL"),
        (knc.kubelet_config, {"node_taints": ["a=b"]}, "is not key\\[=value\\]:Effect"),
        (knc.kubelet_config, {"node_taints": ["a=b:Sometimes"]}, "must be one of NoSchedule"),
        (knc.kubelet_config, {"node_taints": "a=b:NoSchedule"}, "node_taints must be a list"),
        (knc.kubelet_config, {"kubelet_config_overrides": []}, "kubelet_config_overrides must be a dict"),
        (knc.kubelet_args, {"node_name": "Node_1"}, "is not a valid Node name"),
        (knc.kubelet_args, {"node_labels": {"node-role.kubernetes.io/worker": ""}}, "apply it through the API"),
        (knc.kubelet_args, {"node_labels": {"pool": "a b"}}, "is not a valid label"),
        (knc.kube_proxy_config, {"node_name": None}, "node_name is required to render kube-proxy"),
        (knc.kube_proxy_config, {"kube_proxy_mode": "userspace"}, "kube_proxy_mode must be one of"),
        (knc.kube_proxy_config, {"feature_gates": {"A": "yes"}}, "feature_gates must map gate names"),
    ],
)
def test_bad_settings(func, extra, match):
    with pytest.raises(kc.KubeConfigError, match=match):
        func("v1.37.0", settings(**extra))


@pytest.mark.parametrize(
    "key, allowed",
    [
        ("pool", True),
        ("example.com/pool", True),
        ("node.kubernetes.io/pool", True),
        ("sub.node.kubernetes.io/pool", True),
        ("kubelet.kubernetes.io/x", True),
        ("topology.kubernetes.io/zone", True),
        ("kubernetes.io/hostname", True),
        ("node-role.kubernetes.io/worker", False),
        ("node-restriction.kubernetes.io/pool", False),
        ("kubernetes.io/role", False),
        ("example.k8s.io/pool", False),
        ("notkubernetes.io/pool", True),
    ],
)
def test_node_labels_the_kubelet_may_set(key, allowed):
    s = settings(node_labels={key: "x"})
    if allowed:
        assert flags(knc.kubelet_args("v1.37.0", s))["--node-labels"] == "%s=x" % key
    else:
        with pytest.raises(kc.KubeConfigError, match="the kubelet may not set"):
            knc.kubelet_args("v1.37.0", s)


def test_settings_must_be_a_dict():
    with pytest.raises(kc.KubeConfigError, match="settings must be a dict"):
        knc.kube_proxy_args("v1.37.0", ["node_name"])
    assert knc.kube_proxy_args("v1.37.0", None) == ["--config=/etc/kubernetes/kube-proxy.yaml"]


@pytest.mark.parametrize("func", [kcp.apiserver_args, knc.kubelet_config, kcp.scheduler_config, knc.kube_proxy_args])
def test_unsupported_version_refused(func):
    with pytest.raises(kv.KubeVersionError, match="Kubernetes v1.30.0 is not supported"):
        func("v1.30.0", settings())
    with pytest.raises(kv.KubeVersionError, match="pre-release"):
        func("v1.37.0-rc.0", settings())


def test_paths_follow_the_directories():
    s = settings(
        pki_dir="/srv/pki",
        etcd_pki_dir="/srv/etcd",
        kubeconfig_dir="/srv/conf",
        config_dir="/srv/cfg",
        audit_policy_file="/srv/audit/policy.yaml",
    )
    f = flags(kcp.apiserver_args("v1.37.0", s))
    assert f["--tls-cert-file"] == "/srv/pki/apiserver.crt"
    assert f["--etcd-cafile"] == "/srv/etcd/ca.crt"
    assert f["--encryption-provider-config"] == "/srv/cfg/encryption-config.yaml"
    assert f["--audit-policy-file"] == "/srv/audit/policy.yaml"
    assert flags(kcp.controller_manager_args("v1.37.0", s))["--kubeconfig"] == "/srv/conf/controller-manager.conf"
    assert kc.config_files(s) == {
        "encryption_config_file": "/srv/cfg/encryption-config.yaml",
        "audit_policy_file": "/srv/audit/policy.yaml",
        "authentication_config_file": "/srv/cfg/authentication-config.yaml",
        "scheduler_config_file": "/srv/cfg/kube-scheduler.yaml",
        "kubelet_config_file": "/srv/cfg/kubelet-config.yaml",
        "kube_proxy_config_file": "/srv/cfg/kube-proxy.yaml",
    }


def test_etcd_servers_as_a_comma_separated_string():
    s = settings(etcd_servers="https://10.0.0.11:2379, https://10.0.0.12:2379")
    assert flags(kcp.apiserver_args("v1.20.2", s))["--etcd-servers"] == "https://10.0.0.11:2379,https://10.0.0.12:2379"


def test_switches_turn_features_off():
    s = settings(
        encryption_enabled=False,
        audit_enabled=False,
        enable_aggregator_routing=False,
        kubelet_certificate_authority=False,
    )
    f = flags(kcp.apiserver_args("v1.37.0", s))
    for name in (
        "--encryption-provider-config",
        "--encryption-provider-config-automatic-reload",
        "--audit-policy-file",
        "--audit-log-path",
        "--enable-aggregator-routing",
        "--kubelet-certificate-authority",
    ):
        assert name not in f
    assert f["--anonymous-auth"] == "false"  # never switched off


def test_ipv6_single_stack():
    s = settings(
        service_cidr="fd00:10:96::/112",
        pod_cidr="fd00:10:244::/56",
        node_cidr_mask=64,
        advertise_address="fd00::11",
        node_ip="fd00::11",
    )
    assert flags(kcp.apiserver_args("v1.37.0", s))["--service-cluster-ip-range"] == "fd00:10:96::/112"
    assert knc.kubelet_config("v1.37.0", s)["clusterDNS"] == ["fd00:10:96::a"]


# --------------------------------------------------------------------------- encryption and audit


def _key(n=32, name="key1"):
    return {"name": name, "secret": base64.b64encode(os.urandom(n)).decode()}


def test_encryption_config_shape_and_rotation_order():
    new, old = _key(name="key2"), _key(name="key1")
    config = kcp.encryption_config([new, old])
    assert config["kind"] == "EncryptionConfiguration"
    (entry,) = config["resources"]
    assert entry["resources"] == ["secrets"]
    assert entry["providers"] == [{"secretbox": {"keys": [new, old]}}, {"identity": {}}]


def test_encryption_config_options():
    config = kcp.encryption_config(
        [_key(16)], provider="aescbc", resources=["secrets", "configmaps"], identity_fallback=False
    )
    assert config["resources"][0]["resources"] == ["secrets", "configmaps"]
    assert list(config["resources"][0]["providers"][0]) == ["aescbc"]
    assert len(config["resources"][0]["providers"]) == 1


@pytest.mark.parametrize(
    "keys, kwargs, match",
    [
        ([], {}, "non-empty list"),
        ("key", {}, "non-empty list"),
        ([{"name": "k"}], {}, "with name and secret"),
        ([{"name": "k", "secret": "eA==", "size": 1}], {}, "with name and secret"),
        ([{"name": "k", "secret": "eA==", "provider": "kms"}], {}, "'kms' is not one of"),
        ([_key(), _key()], {}, "used twice"),
        ([{"name": "bad name", "secret": "AAAA"}], {}, "malformed"),
        ([_key(16)], {}, "secretbox needs a key of 32 bytes"),
        ([_key(20)], {"provider": "aesgcm"}, "aesgcm needs a key of 16 or 24 or 32 bytes"),
        ([_key()], {"provider": "rot13"}, "is not one of aescbc, aesgcm, secretbox"),
        ([_key()], {"resources": "secrets"}, "list of resource names"),
    ],
)
def test_encryption_config_refuses(keys, kwargs, match):
    with pytest.raises(kc.KubeConfigError, match=match):
        kcp.encryption_config(keys, **kwargs)


def test_encryption_errors_never_show_the_secret():
    secret = "not base64 but secret!"  # noqa: S105 - a fake secret that must not leak into the message
    with pytest.raises(kc.KubeConfigError) as err:
        kcp.encryption_config([{"name": "k1", "secret": secret}])
    assert secret not in str(err.value)
    assert "k1" in str(err.value)
    short = base64.b64encode(b"sixteen byte key").decode()
    with pytest.raises(kc.KubeConfigError) as err:
        kcp.encryption_config([{"name": "k1", "secret": short}])
    assert short not in str(err.value)


def test_audit_policy_never_logs_bodies():
    policy = kcp.audit_policy()
    assert policy["kind"] == "Policy"
    assert policy["omitStages"] == ["RequestReceived"]
    levels = [rule["level"] for rule in policy["rules"]]
    assert set(levels) <= {"None", "Metadata"}  # Request/RequestResponse would log Secret contents
    assert policy["rules"][-1] == {"level": "Metadata"}  # catch-all last


# --------------------------------------------------------------------------- systemd


def test_systemd_exec_args():
    text = kc.systemd_exec_args(["--a=1", "--b=x y", '--c="q"', "--d=50%", "--e=a,b:c/d"])
    assert text.split(" \\\n    ") == ["--a=1", '"--b=x y"', '"--c=\\"q\\""', "--d=50%%", "--e=a,b:c/d"]
    assert kc.systemd_exec_args([]) == ""


# --------------------------------------------------------------------------- TLS cipher suites

SERVING = {
    "kube-apiserver": kcp.apiserver_args,
    "kube-controller-manager": kcp.controller_manager_args,
    "kube-scheduler": kcp.scheduler_args,
}


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("component", sorted(SERVING))
def test_every_serving_component_offers_only_ecdhe_aead_suites_over_tls12(minor, component):
    f = flags(SERVING[component](VERSIONS[minor], settings()))
    assert f["--tls-min-version"] == "VersionTLS12"
    suites = f["--tls-cipher-suites"].split(",")
    assert suites == list(kc.TLS_CIPHER_SUITES)
    assert all(s.startswith("TLS_ECDHE_") and s.endswith(("_GCM_SHA256", "_GCM_SHA384", "_POLY1305")) for s in suites)


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet_offers_the_same_suites(minor):
    config = knc.kubelet_config(VERSIONS[minor], settings())
    assert config["tlsMinVersion"] == "VersionTLS12"
    assert config["tlsCipherSuites"] == list(kc.TLS_CIPHER_SUITES)


def test_an_empty_suite_list_leaves_the_choice_to_go():
    f = flags(kcp.apiserver_args("1.20", settings(tls_cipher_suites=[])))
    assert "--tls-cipher-suites" not in f and f["--tls-min-version"] == "VersionTLS12"
    assert "tlsCipherSuites" not in knc.kubelet_config("1.20", settings(tls_cipher_suites=[]))


def test_a_chosen_suite_list_is_rendered_as_given():
    chosen = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]
    assert flags(kcp.scheduler_args("1.20", settings(tls_cipher_suites=chosen)))["--tls-cipher-suites"] == chosen[0]
    assert knc.kubelet_config("1.37", settings(tls_cipher_suites=chosen))["tlsCipherSuites"] == chosen


@pytest.mark.parametrize(
    "value,message",
    [
        ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "must be a list of cipher suite names"),
        (["ECDHE-ECDSA-AES128-GCM-SHA256"], "must be a list of cipher suite names"),  # an OpenSSL name
        (["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "lists a suite twice"),
    ],
)
def test_a_bad_suite_list_is_refused(value, message):
    with pytest.raises(kc.KubeConfigError, match=message):
        kcp.apiserver_args("1.20", settings(tls_cipher_suites=value))


def test_encryption_keys_of_two_providers_render_as_two_entries_in_order():
    old = {"name": "key1", "secret": base64.b64encode(b"o" * 16).decode(), "provider": "aescbc"}
    new = {"name": "key2", "secret": base64.b64encode(b"n" * 32).decode()}  # the call's provider: secretbox
    config = kcp.encryption_config([new, old], provider="secretbox", version="1.20")
    providers = config["resources"][0]["providers"]
    assert providers == [
        {"secretbox": {"keys": [{"name": "key2", "secret": new["secret"]}]}},
        {"aescbc": {"keys": [{"name": "key1", "secret": old["secret"]}]}},
        {"identity": {}},
    ]
    # each key is checked against its own provider: a 16-byte key is fine for aescbc, not for secretbox
    with pytest.raises(kc.KubeConfigError, match="key1: secretbox needs a key of 32 bytes"):
        kcp.encryption_config([new, dict(old, provider="secretbox")], version="1.20")


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet_protects_kernel_defaults_unless_told_not_to(minor):
    assert knc.kubelet_config(VERSIONS[minor], settings())["protectKernelDefaults"] is True
    relaxed = knc.kubelet_config(VERSIONS[minor], settings(protect_kernel_defaults=False))
    assert relaxed["protectKernelDefaults"] is False
    with pytest.raises(kc.KubeConfigError, match="protect_kernel_defaults must be true or false"):
        knc.kubelet_config(VERSIONS[minor], settings(protect_kernel_defaults="yes"))
