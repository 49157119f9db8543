#!/usr/bin/python3
"""Drives a k8ts server with the official Python client (Debian's python3-kubernetes).

Usage: client_flow.py KUBECONFIG NAMESPACE
Prints one JSON object with what it saw; the node test (python.test.ts) asserts on it.
"""
import json
import os
import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def status_of(e):
    try:
        body = json.loads(e.body)
    except Exception:  # noqa: BLE001
        body = {}
    return {"status": e.status, "reason": body.get("reason"), "message": body.get("message"), "kind": body.get("kind")}


def main():
    kubeconfig, ns = sys.argv[1], sys.argv[2]
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    out = {}

    out["version"] = client.VersionApi().get_code().git_version
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    # ---- CRUD --------------------------------------------------------------------------------
    cm = core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py-crud", labels={"app": "py"}), data={"a": "1"}))
    created_rv = cm.metadata.resource_version
    got = core.read_namespaced_config_map("py-crud", ns)
    got.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("py-crud", ns, got)
    patched = core.patch_namespaced_config_map("py-crud", ns, {"metadata": {"labels": {"extra": "yes"}}, "data": {"c": "3"}})
    out["crud"] = {
        "created_rv": created_rv,
        "replaced_rv": replaced.metadata.resource_version,
        "patched_rv": patched.metadata.resource_version,
        "data": patched.data,
        "labels": patched.metadata.labels,
        "uid_stable": cm.metadata.uid == patched.metadata.uid,
    }
    try:
        core.replace_namespaced_config_map("py-crud", ns, got)  # stale resourceVersion
        out["conflict"] = None
    except ApiException as e:
        out["conflict"] = status_of(e)
    try:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-crud")))
        out["exists"] = None
    except ApiException as e:
        out["exists"] = status_of(e)
    try:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Not_Valid")))
        out["invalid"] = None
    except ApiException as e:
        out["invalid"] = status_of(e)
    deleted = core.delete_namespaced_config_map("py-crud", ns)
    out["delete_status"] = deleted.status
    try:
        core.read_namespaced_config_map("py-crud", ns)
        out["not_found"] = None
    except ApiException as e:
        out["not_found"] = status_of(e)

    # Deployments through apps/v1.
    dep = apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "py-web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "py-web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1.27")])))))
    scaled = apps.patch_namespaced_deployment_scale("py-web", ns, {"spec": {"replicas": 3}})
    dep2 = apps.read_namespaced_deployment("py-web", ns)
    out["deployment"] = {
        "strategy": dep.spec.strategy.type,
        "scale_replicas": scaled.spec.replicas,
        "replicas": dep2.spec.replicas,
        "generation": dep2.metadata.generation,
    }

    # ---- selectors ---------------------------------------------------------------------------
    for name, labels in [("s-a1", {"app": "a", "env": "prod"}), ("s-a2", {"app": "a", "env": "dev"}),
                         ("s-b1", {"app": "b", "env": "prod"}), ("s-none", None)]:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels)))

    def names(**kw):
        # Only this script's objects (a cluster may publish kube-root-ca.crt into every namespace).
        return sorted(i.metadata.name for i in core.list_namespaced_config_map(ns, **kw).items if i.metadata.name != "kube-root-ca.crt")

    out["selectors"] = {
        "app=a": names(label_selector="app=a"),
        "env in (prod),app!=a": names(label_selector="env in (prod),app!=a"),
        "!app": names(label_selector="!app"),
        "name=s-a2": names(field_selector="metadata.name=s-a2"),
        "both": names(label_selector="env=prod", field_selector="metadata.name!=s-b1"),
    }
    # limit/continue
    first = core.list_namespaced_config_map(ns, limit=2)
    second = core.list_namespaced_config_map(ns, limit=2, _continue=first.metadata._continue)
    out["pages"] = {
        "all": [i.metadata.name for i in core.list_namespaced_config_map(ns).items],
        "first": [i.metadata.name for i in first.items],
        "second": [i.metadata.name for i in second.items],
        "remaining": first.metadata.remaining_item_count,
        "same_rv": first.metadata.resource_version == second.metadata.resource_version,
    }

    # ---- watch resume: list -> rv -> changes -> watch from rv ----------------------------------
    listed = core.list_namespaced_config_map(ns)
    rv = listed.metadata.resource_version
    expected = []
    c1 = core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w-1"), data={"v": "1"}))
    expected.append(["ADDED", "w-1", c1.metadata.resource_version])
    m1 = core.patch_namespaced_config_map("w-1", ns, {"data": {"v": "2"}})
    expected.append(["MODIFIED", "w-1", m1.metadata.resource_version])
    c2 = core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w-2")))
    expected.append(["ADDED", "w-2", c2.metadata.resource_version])
    d1 = core.delete_namespaced_config_map("w-1", ns)
    # The DELETED event carries the deletion's resourceVersion (known after it happened).
    expected.append(["DELETED", "w-1", None])
    m2 = core.patch_namespaced_config_map("s-a1", ns, {"metadata": {"labels": {"touched": "1"}}})
    expected.append(["MODIFIED", "s-a1", m2.metadata.resource_version])

    seen = []
    w = watch.Watch()
    started = time.time()
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=5):
        obj = ev["object"]
        if obj.metadata.name == "kube-root-ca.crt":
            continue
        seen.append([ev["type"], obj.metadata.name, obj.metadata.resource_version])
        if len(seen) >= len(expected):
            w.stop()
    out["watch"] = {
        "rv": rv,
        "expected": expected,
        "seen": seen,
        "seconds": time.time() - started,
        "deleted_data": None,
    }
    # Resuming again from the rv of the 2nd event sees only the later ones.
    seen2 = []
    w2 = watch.Watch()
    for ev in w2.stream(core.list_namespaced_config_map, ns, resource_version=seen[1][2], timeout_seconds=2):
        if ev["object"].metadata.name == "kube-root-ca.crt":
            continue
        seen2.append([ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version])
        if len(seen2) >= len(expected) - 2:
            w2.stop()
    out["watch"]["resumed"] = seen2

    # Watch with a label selector: only matching objects.
    rv3 = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w-sel", labels={"watchme": "y"})))
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w-nosel")))
    seen3 = []
    w3 = watch.Watch()
    for ev in w3.stream(core.list_namespaced_config_map, ns, resource_version=rv3, label_selector="watchme=y", timeout_seconds=1):
        seen3.append([ev["type"], ev["object"].metadata.name])
    out["watch"]["selected"] = seen3

    # A full watch (no resourceVersion) starts with ADDED for everything that exists.
    initial = []
    w4 = watch.Watch()
    for ev in w4.stream(core.list_namespaced_config_map, ns, timeout_seconds=1):
        if ev["object"].metadata.name == "kube-root-ca.crt":
            continue
        initial.append([ev["type"], ev["object"].metadata.name])
    out["watch"]["initial"] = initial
    out["final_names"] = names()

    # ---- the dynamic client (discovery-driven, as used by Ansible and friends) ----------------
    from kubernetes.dynamic import DynamicClient
    dyn = DynamicClient(client.ApiClient())
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    deps = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    dyn_created = cms.create(namespace=ns, body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn-1"}, "data": {"k": "v"}})
    dyn_patched = cms.patch(namespace=ns, name="dyn-1", body={"data": {"k": "w"}}, content_type="application/merge-patch+json")
    dyn_list = cms.get(namespace=ns, label_selector="app=a")
    out["dynamic"] = {
        "created": dyn_created.metadata.name,
        "patched": dyn_patched.data.k,
        "selected": sorted(i.metadata.name for i in dyn_list.items),
        "deployment_plural": deps.name,
        "deployment_namespaced": deps.namespaced,
        "scale_subresource": "scale" in deps.subresources,
        "status": cms.delete(namespace=ns, name="dyn-1").status,
    }

    out["workloads"] = workloads(ns)
    out["sweep"] = sweep()
    print(json.dumps(out))


def workloads(ns):
    """Creates, reads and lists each workload kind with the typed API: the client's models raise
    when a field upstream always writes (a zero replica count, say) is missing."""
    apps = client.AppsV1Api()
    batch = client.BatchV1Api()
    hpa_v1 = client.AutoscalingV1Api()
    labels = {"app": "shapes"}
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]))
    selector = client.V1LabelSelector(match_labels=labels)
    meta = lambda name: client.V1ObjectMeta(name=name)  # noqa: E731
    results = {}

    def attempt(name, fn):
        try:
            fn()
            results[name] = "ok"
        except Exception as e:  # noqa: BLE001 - the model's ValueError is what this looks for
            results[name] = f"{type(e).__name__}: {e}"

    def daemonset():
        apps.create_namespaced_daemon_set(ns, client.V1DaemonSet(metadata=meta("ds"), spec=client.V1DaemonSetSpec(selector=selector, template=template)))
        apps.read_namespaced_daemon_set("ds", ns)
        apps.list_namespaced_daemon_set(ns)

    def replicaset():
        apps.create_namespaced_replica_set(ns, client.V1ReplicaSet(metadata=meta("rs"), spec=client.V1ReplicaSetSpec(replicas=0, selector=selector, template=template)))
        apps.read_namespaced_replica_set("rs", ns)
        apps.list_namespaced_replica_set(ns)

    def statefulset():
        apps.create_namespaced_stateful_set(ns, client.V1StatefulSet(metadata=meta("sts"), spec=client.V1StatefulSetSpec(replicas=0, selector=selector, template=template, service_name="sts")))
        apps.read_namespaced_stateful_set("sts", ns)
        apps.list_namespaced_stateful_set(ns)

    def deployment():
        apps.create_namespaced_deployment(ns, client.V1Deployment(metadata=meta("dep"), spec=client.V1DeploymentSpec(replicas=0, selector=selector, template=template)))
        apps.read_namespaced_deployment("dep", ns)

    def job():
        job_template = client.V1PodTemplateSpec(spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(name="c", image="busybox:1.36")]))
        batch.create_namespaced_job(ns, client.V1Job(metadata=meta("job"), spec=client.V1JobSpec(template=job_template, suspend=True)))
        batch.read_namespaced_job("job", ns)

    target = client.V1CrossVersionObjectReference(api_version="apps/v1", kind="Deployment", name="dep")

    def hpa_autoscaling_v1():
        hpa_v1.create_namespaced_horizontal_pod_autoscaler(ns, client.V1HorizontalPodAutoscaler(metadata=meta("hpa1"), spec=client.V1HorizontalPodAutoscalerSpec(scale_target_ref=target, max_replicas=3)))
        hpa_v1.read_namespaced_horizontal_pod_autoscaler("hpa1", ns)
        hpa_v1.list_namespaced_horizontal_pod_autoscaler(ns)

    for name, fn in [("daemonset", daemonset), ("replicaset", replicaset), ("statefulset", statefulset), ("deployment", deployment),
                     ("job", job), ("hpa_v1", hpa_autoscaling_v1)]:
        attempt(name, fn)
    return results


def sweep():
    """Creates one small object of many kinds (kinds.yaml), then calls every cluster-wide list
    method of every typed API class: the models raise when a field the OpenAPI marks required is
    missing or null, so this checks each kind's served shape against upstream's serialisation."""
    from kubernetes import utils
    api = client.ApiClient()
    utils.create_from_yaml(api, os.path.join(os.path.dirname(__file__), "kinds.yaml"))
    listed, failures = [], {}
    for name in sorted(dir(client)):
        if not name.endswith("Api") or name in ("ApiClient", "CustomObjectsApi"):
            continue
        typed = getattr(client, name)(api)
        for method in sorted(dir(typed)):
            if not method.startswith("list_") or method.endswith("_with_http_info"):
                continue
            if "namespaced" in method:
                continue  # the *_for_all_namespaces form lists the same objects
            try:
                getattr(typed, method)(_request_timeout=20)
                listed.append(f"{name}.{method}")
            except client.exceptions.ApiException as e:
                if e.status != 404:  # a group k8ts does not serve is absent from discovery too
                    failures[f"{name}.{method}"] = f"HTTP {e.status}"
            except Exception as e:  # noqa: BLE001 - a model's ValueError is what this looks for
                failures[f"{name}.{method}"] = f"{type(e).__name__}: {e}"
    return {"listed": listed, "failures": failures}


if __name__ == "__main__":
    main()
