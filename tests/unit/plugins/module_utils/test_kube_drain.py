"""Drain logic against a fake API (pods, PodDisruptionBudgets that block N times or forever, eviction API versions)
and a fake clock, so every wait and timeout runs instantly."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import drain as D
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.api import KubeApiError


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def status_error(status, reason, message, details=None):
    return KubeApiError(
        "POST /x: HTTP %d %s: %s" % (status, reason, message),
        status=status,
        reason=reason,
        details=details or {},
        api_message=message,
    )


def pod(name, ns="default", owner="ReplicaSet", node="node1", phase="Running", emptydir=False, **meta):
    metadata = {"name": name, "namespace": ns, "uid": "uid-" + name}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner, "name": owner.lower() + "-x", "controller": True}]
    metadata.update(meta)
    volumes = [{"name": "scratch", "emptyDir": {}}] if emptydir else [{"name": "cfg", "configMap": {"name": "c"}}]
    return {"metadata": metadata, "spec": {"nodeName": node, "volumes": volumes}, "status": {"phase": phase}}


class FakeApi(object):
    """Nodes and pods in memory; ``blocks[ns/name]`` = evictions refused (429) before one is allowed
    (``None``: forever); ``terminating[ns/name]`` = polls during which an evicted pod is still there.

    ``discovery``: the eviction version /api/v1 announces (None: not announced); ``known``: the Eviction versions
    the server accepts; ``pdb``: name in the 429 cause.
    """

    def __init__(self, pods, unschedulable=False, discovery="policy/v1", known=("policy/v1",), blocks=None):
        self.node = {"metadata": {"name": "node1"}, "spec": {"unschedulable": True} if unschedulable else {}}
        self.pods = {D.pod_key(p): p for p in pods}
        self.discovery = discovery
        self.known = known
        self.blocks = dict(blocks or {})
        self.terminating = {}
        self.pdb = "web-pdb"
        self.calls = []
        self.evictions = []
        self.fail_uncordon = False
        self.after_cordon = []  # pods that appear once the node is cordoned (scheduled meanwhile)

    def list_all(self, path, params=None):
        self.calls.append(("LIST", path, params))
        assert path == "/api/v1/pods" and params == {"fieldSelector": "spec.nodeName=node1"}
        return [p for p in self.pods.values() if p["spec"]["nodeName"] == "node1"]

    def get(self, path, params=None):
        self.calls.append(("GET", path))
        if path == "/api/v1/nodes/node1":
            return self.node
        if path.startswith("/api/v1/nodes/"):
            raise status_error(404, "NotFound", 'nodes "%s" not found' % path.rsplit("/", 1)[1])
        if path == "/api/v1":
            resources = [{"name": "pods", "kind": "Pod"}]
            if self.discovery:
                group, version = self.discovery.split("/")
                resources.append({"name": "pods/eviction", "group": group, "version": version, "kind": "Eviction"})
            return {"kind": "APIResourceList", "resources": resources}
        _, _, _, _, ns, _, name = path.split("/")
        key = "%s/%s" % (ns, name)
        if key not in self.pods:
            raise status_error(404, "NotFound", 'pods "%s" not found' % name, {"name": name, "kind": "pods"})
        if self.terminating.get(key, 0) > 0:
            self.terminating[key] -= 1
        elif key in self.terminating:
            del self.pods[key]
            raise status_error(404, "NotFound", 'pods "%s" not found' % name, {"name": name, "kind": "pods"})
        return self.pods[key]

    def patch(self, path, body, content_type=None):
        self.calls.append(("PATCH", path, body))
        assert path == "/api/v1/nodes/node1"
        if body["spec"]["unschedulable"] is False and self.fail_uncordon:
            raise status_error(500, "InternalError", "etcd is down")
        self.node["spec"]["unschedulable"] = body["spec"]["unschedulable"]
        if body["spec"]["unschedulable"]:
            for extra in self.after_cordon:
                self.pods[D.pod_key(extra)] = extra
        return self.node

    def post(self, path, body):
        self.calls.append(("POST", path, body))
        ns, name = path.split("/")[4], path.split("/")[6]
        key = "%s/%s" % (ns, name)
        assert path.endswith("/eviction") and body["kind"] == "Eviction"
        assert body["metadata"] == {"name": name, "namespace": ns}
        if body["apiVersion"] not in self.known:
            raise status_error(
                400, "BadRequest", 'no kind "Eviction" is registered for version "%s" in scheme' % body["apiVersion"]
            )
        if key not in self.pods:
            raise status_error(404, "NotFound", 'pods "%s" not found' % name, {"name": name, "kind": "pods"})
        if key in self.blocks and (self.blocks[key] is None or self.blocks[key] > 0):
            if self.blocks[key] is not None:
                self.blocks[key] -= 1
            raise status_error(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": "The disruption budget %s needs 2 healthy pods and has 2 currently" % self.pdb,
                        }
                    ]
                },
            )
        self.evictions.append((key, body["apiVersion"], body.get("deleteOptions")))
        self.terminating.setdefault(key, 0)
        return {"kind": "Status", "status": "Success"}

    def writes(self):
        return [c for c in self.calls if c[0] in ("PATCH", "POST")]


def opts(**kw):
    kw.setdefault("timeout", 60)
    kw.setdefault("retry_interval", 5)
    return D.DrainOptions(**kw)


def drain(api, check_mode=False, **kw):
    clock = FakeClock()
    result = D.run(api, "node1", "drained", opts(**kw), check_mode=check_mode, clock=clock, sleep=clock.sleep)
    return result, clock


def failing_drain(api, **kw):
    clock = FakeClock()
    with pytest.raises(D.DrainError) as info:
        D.run(api, "node1", "drained", opts(**kw), clock=clock, sleep=clock.sleep)
    return info.value, clock


# ---------------------------------------------------------------- classification


def test_classify_each_kind_of_pod():
    pods = [
        pod("web-1"),
        pod("ds-1", ns="kube-system", owner="DaemonSet"),
        pod("static-1", ns="kube-system", owner="Node", annotations={D.MIRROR_ANNOTATION: "abc"}),
        pod("bare", owner=None),
        pod("cache", emptydir=True),
        pod("job-done", owner=None, phase="Succeeded", emptydir=True),
        pod("going", deletionTimestamp="2026-01-01T00:00:00Z"),
    ]
    evict, wait, skipped, refused = D.classify(pods, opts())
    assert [D.pod_key(p) for p in evict] == ["default/job-done", "default/web-1"]
    assert [D.pod_key(p) for p in wait] == ["default/going"]
    assert skipped == [
        {"pod": "kube-system/ds-1", "reason": "DaemonSet pod (DaemonSet daemonset-x)"},
        {"pod": "kube-system/static-1", "reason": "mirror pod (static pod managed by the kubelet)"},
    ]
    assert [r["pod"] for r in refused] == ["default/bare", "default/cache"]
    assert "set force" in refused[0]["reason"] and "set delete_emptydir_data" in refused[1]["reason"]

    evict, _, _, refused = D.classify(pods, opts(force=True, delete_emptydir_data=True))
    assert refused == [] and len(evict) == 4
    _, _, skipped, refused = D.classify(pods, opts(ignore_daemonsets=False))
    assert "kube-system/ds-1" in [r["pod"] for r in refused]
    assert [s["pod"] for s in skipped] == ["kube-system/static-1"]


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(timeout=0), "timeout must be"),
        (dict(retry_interval=-1), "retry_interval must be"),
        (dict(grace_period=-1), "grace_period must be"),
        (dict(eviction_api="v2"), "eviction_api must be one of"),
    ],
)
def test_bad_options_are_refused(kw, match):
    with pytest.raises(D.DrainError, match=match):
        opts(**kw)


# ---------------------------------------------------------------- drain


def test_drain_cordons_evicts_and_waits_until_gone():
    api = FakeApi([pod("web-1"), pod("web-2", ns="shop"), pod("ds-1", owner="DaemonSet")])
    api.terminating = {"default/web-1": 2}  # still there for two polls after its eviction
    result, clock = drain(api, grace_period=30)
    assert result["changed"] is True and result["cordoned"] is True
    assert api.node["spec"]["unschedulable"] is True
    assert result["evicted"] == ["default/web-1", "shop/web-2"]
    assert result["skipped"] == [{"pod": "default/ds-1", "reason": "DaemonSet pod (DaemonSet daemonset-x)"}]
    assert result["eviction_api"] == "policy/v1"
    assert api.evictions == [
        ("default/web-1", "policy/v1", {"gracePeriodSeconds": 30}),
        ("shop/web-2", "policy/v1", {"gracePeriodSeconds": 30}),
    ]
    assert "default/web-1" not in api.pods and "shop/web-2" not in api.pods
    assert clock.sleeps == [5, 5]  # two polls while web-1 terminated, no sleep otherwise


def test_pdb_blocks_twice_then_allows():
    api = FakeApi([pod("web-1"), pod("web-2")], blocks={"default/web-1": 2})
    result, clock = drain(api)
    assert result["evicted"] == ["default/web-2", "default/web-1"]
    assert clock.sleeps == [5, 5]
    assert [c[2]["metadata"]["name"] for c in api.writes() if c[0] == "POST"] == ["web-1", "web-2", "web-1", "web-1"]


def test_pdb_blocking_past_the_timeout_fails_and_uncordons():
    api = FakeApi([pod("web-1"), pod("web-2", ns="shop")], blocks={"default/web-1": None})
    error, clock = failing_drain(api, timeout=30, retry_interval=7)
    message = str(error)
    assert "draining node1 timed out after 30s" in message
    assert "default/web-1: PodDisruptionBudget web-pdb" in message
    assert message.endswith("node1 was uncordoned again")
    assert error.result["blocked"] == [
        {
            "pod": "default/web-1",
            "reason": "Cannot evict pod as it would violate the pod's disruption budget.",
            "pdb": "web-pdb",
        }
    ]
    assert error.result["uncordoned"] is True and error.result["cordoned"] is False
    assert error.result["evicted"] == ["shop/web-2"]
    assert api.node["spec"]["unschedulable"] is False
    assert sum(clock.sleeps) == 30 and clock.sleeps == [7, 7, 7, 7, 2]  # never sleeps past the deadline


def test_keep_cordoned_on_failure():
    api = FakeApi([pod("web-1")], blocks={"default/web-1": None})
    error, _ = failing_drain(api, timeout=10, keep_cordoned_on_failure=True)
    assert "left cordoned (keep_cordoned_on_failure)" in str(error)
    assert error.result["uncordoned"] is False and api.node["spec"]["unschedulable"] is True


def test_node_cordoned_before_the_run_stays_cordoned_on_failure():
    api = FakeApi([pod("web-1")], unschedulable=True, blocks={"default/web-1": None})
    error, _ = failing_drain(api, timeout=10)
    assert "cordoned before this run and is left cordoned" in str(error)
    assert api.node["spec"]["unschedulable"] is True
    assert not [c for c in api.calls if c[0] == "PATCH"]


def test_failed_uncordon_is_reported_too():
    api = FakeApi([pod("web-1")], blocks={"default/web-1": None})
    api.fail_uncordon = True
    error, _ = failing_drain(api, timeout=10)
    assert "uncordoning node1 failed too" in str(error) and "etcd is down" in str(error)


def test_pod_that_never_terminates_times_out():
    api = FakeApi([pod("web-1")])
    api.terminating = {"default/web-1": 1000}
    error, _ = failing_drain(api, timeout=20)
    assert "waiting for evicted pods to terminate: default/web-1" in str(error)
    assert error.result["blocked"] == [{"pod": "default/web-1", "reason": "still terminating", "pdb": ""}]
    assert api.node["spec"]["unschedulable"] is False


def test_replaced_pod_with_same_name_counts_as_gone():
    api = FakeApi([pod("db-0", owner="StatefulSet")])
    api.terminating = {"default/db-0": 1000}
    real_post = api.post

    def post_and_replace(path, body):
        answer = real_post(path, body)
        api.pods["default/db-0"] = pod("db-0", owner="StatefulSet", node="node2", uid="uid-new")
        del api.terminating["default/db-0"]
        return answer

    api.post = post_and_replace
    result, clock = drain(api)
    assert result["evicted"] == ["default/db-0"] and clock.sleeps == []


def test_unexpected_api_error_uncordons_and_fails():
    api = FakeApi([pod("web-1")])
    api.blocks = {}

    def broken(path, body):
        raise status_error(500, "InternalError", "This pod has more than one PodDisruptionBudget")

    api.post = broken
    error, _ = failing_drain(api)
    assert "HTTP 500 InternalError: This pod has more than one PodDisruptionBudget" in str(error)
    assert error.result["uncordoned"] is True and error.result["uncordoned"] is True
    assert api.node["spec"]["unschedulable"] is False


def test_refusals_change_nothing():
    api = FakeApi([pod("web-1"), pod("bare", owner=None), pod("cache", emptydir=True)])
    error, _ = failing_drain(api)
    assert str(error).startswith("cannot drain node1: default/bare not managed by a controller")
    assert "default/cache has emptyDir volumes" in str(error)
    assert [r["pod"] for r in error.result["refused"]] == ["default/bare", "default/cache"]
    assert api.writes() == [] and api.node["spec"] == {}


def test_force_and_delete_emptydir_data_evict_them():
    api = FakeApi([pod("bare", owner=None), pod("cache", emptydir=True)])
    result, _ = drain(api, force=True, delete_emptydir_data=True)
    assert result["evicted"] == ["default/bare", "default/cache"]


def test_daemonset_pods_refused_without_ignore_daemonsets():
    api = FakeApi([pod("ds-1", owner="DaemonSet")])
    error, _ = failing_drain(api, ignore_daemonsets=False)
    assert "default/ds-1 DaemonSet pod (DaemonSet daemonset-x): set ignore_daemonsets" in str(error)
    assert api.writes() == []


def test_pod_scheduled_before_the_cordon_is_listed_again():
    api = FakeApi([pod("web-1")])
    api.after_cordon = [pod("bare", owner=None)]
    error, _ = failing_drain(api)
    assert "default/bare not managed by a controller" in str(error)
    assert error.result["uncordoned"] is True and api.node["spec"]["unschedulable"] is False
    assert api.evictions == []


def test_node_that_does_not_exist():
    with pytest.raises(D.DrainError, match="node node9 does not exist"):
        D.run(FakeApi([]), "node9", "drained", opts())


# ---------------------------------------------------------------- eviction API versions


def test_discovery_chooses_v1beta1_on_old_servers():
    api = FakeApi([pod("web-1")], discovery="policy/v1beta1", known=("policy/v1beta1",))
    result, _ = drain(api)
    assert result["eviction_api"] == "policy/v1beta1"
    assert [c[2]["apiVersion"] for c in api.calls if c[0] == "POST"] == ["policy/v1beta1"]


def test_falls_back_to_v1beta1_when_discovery_does_not_say():
    api = FakeApi([pod("web-1"), pod("web-2")], discovery=None, known=("policy/v1beta1",))
    result, _ = drain(api)
    assert result["eviction_api"] == "policy/v1beta1"
    assert [c[2]["apiVersion"] for c in api.calls if c[0] == "POST"] == [
        "policy/v1",
        "policy/v1beta1",
        "policy/v1beta1",
    ]


def test_no_fallback_when_the_version_was_chosen():
    api = FakeApi([pod("web-1")], known=("policy/v1beta1",))
    error, _ = failing_drain(api, eviction_api="policy/v1")
    assert 'no kind "Eviction" is registered for version "policy/v1"' in str(error)
    assert error.result["uncordoned"] is True


def test_explicit_v1beta1_skips_discovery():
    api = FakeApi([pod("web-1")], known=("policy/v1beta1",))
    result, _ = drain(api, eviction_api="policy/v1beta1")
    assert result["eviction_api"] == "policy/v1beta1"
    assert ("GET", "/api/v1") not in api.calls


def test_pod_gone_before_its_eviction_is_not_an_error():
    api = FakeApi([pod("web-1")])
    real_post = api.post

    def vanish(path, body):
        api.pods.pop("default/web-1", None)
        return real_post(path, body)

    api.post = vanish
    result, _ = drain(api)
    assert result["evicted"] == [] and result["changed"] is True  # the cordon was the change


# ---------------------------------------------------------------- idempotence and check mode


def test_drained_node_reports_no_change():
    api = FakeApi([pod("ds-1", owner="DaemonSet")], unschedulable=True)
    result, _ = drain(api)
    assert result["changed"] is False and result["evicted"] == [] and api.writes() == []


def test_already_terminating_pod_is_waited_for_not_evicted():
    api = FakeApi([pod("web-1", deletionTimestamp="2026-01-01T00:00:00Z")], unschedulable=True)
    api.terminating = {"default/web-1": 1}
    result, clock = drain(api)
    assert result["changed"] is False and api.evictions == [] and clock.sleeps == [5]


def test_check_mode_reports_and_changes_nothing():
    api = FakeApi([pod("web-1"), pod("ds-1", owner="DaemonSet")], blocks={"default/web-1": None})
    result, clock = drain(api, check_mode=True)
    assert result["changed"] is True and result["cordoned"] is True
    assert result["evicted"] == ["default/web-1"]
    assert api.writes() == [] and api.node["spec"] == {} and clock.sleeps == []
    quiet = FakeApi([], unschedulable=True)
    assert drain(quiet, check_mode=True)[0]["changed"] is False


def test_check_mode_still_refuses():
    api = FakeApi([pod("bare", owner=None)])
    clock = FakeClock()
    with pytest.raises(D.DrainError, match="set force"):
        D.run(api, "node1", "drained", opts(), check_mode=True, clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize("check_mode", [False, True])
def test_cordon_and_uncordon_are_idempotent(check_mode):
    api = FakeApi([pod("web-1")])
    first = D.run(api, "node1", "cordoned", opts(), check_mode=check_mode)
    assert first["changed"] is True and first["cordoned"] is True and first["evicted"] == []
    assert api.node["spec"].get("unschedulable", False) is (not check_mode)
    assert api.evictions == []
    if not check_mode:
        assert D.run(api, "node1", "cordoned", opts())["changed"] is False
        back = D.run(api, "node1", "uncordoned", opts())
        assert back["changed"] is True and back["cordoned"] is False
        assert api.node["spec"]["unschedulable"] is False
    again = D.run(api, "node1", "uncordoned", opts(), check_mode=check_mode)
    assert again["changed"] is False


def test_bad_state_and_node():
    with pytest.raises(D.DrainError, match="state must be one of"):
        D.run(FakeApi([]), "node1", "gone", opts())
    with pytest.raises(D.DrainError, match="node must be"):
        D.run(FakeApi([]), "", "drained", opts())


def test_eviction_404_not_about_the_pod_is_an_error():
    api = FakeApi([pod("web-1")])

    def no_such_resource(path, body):
        raise status_error(404, "NotFound", "the server could not find the requested resource")

    api.post = no_such_resource
    error, _ = failing_drain(api, eviction_api="policy/v1")
    assert "could not find the requested resource" in str(error) and error.result["uncordoned"] is True


def test_eviction_404_falls_back_in_auto_mode_without_discovery():
    api = FakeApi([pod("web-1")], discovery=None, known=("policy/v1beta1",))
    real_post = api.post

    def v1_unknown(path, body):
        if body["apiVersion"] == "policy/v1":
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        return real_post(path, body)

    api.post = v1_unknown
    result, _ = drain(api)
    assert result["eviction_api"] == "policy/v1beta1" and result["evicted"] == ["default/web-1"]


# ---------------------------------------------------------------- a failed drain


@pytest.mark.parametrize(
    "cordoned_here, keep, fail_uncordon, suffix, uncordoned",
    [
        (True, False, False, "; node1 was uncordoned again", True),
        (True, False, True, "; uncordoning node1 failed too: ", False),
        (True, True, False, "; node1 is left cordoned (keep_cordoned_on_failure)", False),
        (False, False, False, "; node1 was cordoned before this run and is left cordoned", False),
    ],
)
def test_drain_failure_says_what_became_of_the_cordon(cordoned_here, keep, fail_uncordon, suffix, uncordoned):
    api = FakeApi([], unschedulable=True)
    api.fail_uncordon = fail_uncordon
    result = D._new_result("node1", "drained")
    result["cordoned"] = True
    error = D._drain_failure(
        api, "node1", opts(keep_cordoned_on_failure=keep), status_error(500, "x", "boom"), result, cordoned_here
    )
    assert isinstance(error, D.DrainError) and str(error).startswith(str(status_error(500, "x", "boom")) + suffix)
    assert error.result["uncordoned"] is uncordoned and error.result["blocked"] == []
    assert error.result["cordoned"] is not uncordoned
    assert api.node["spec"]["unschedulable"] is not uncordoned
    assert result.get("uncordoned") is None  # the run's own result is left as it was
