#!/usr/bin/env python3
"""Lints charts/tgbind-controller strictly with the Helm v4 library and validates what it renders.

Checks, for several value sets users will write (defaults, IRSA, ServiceMonitor, one namespace, one
replica, and every file in examples/helm-values plus the Argo CD example's inline values): `helm lint --strict` finds nothing; every rendered core object validates against the
Kubernetes schema (strict: unknown fields are errors); the RBAC grants no access to Secrets; the
Deployment runs non-root with a read-only root filesystem and has resource requests and limits.
Prints one line per check and exits non-zero on any failure.

    check-chart.py [CHART]   CHART: the chart folder (default charts/tgbind-controller) or a
                             packaged .tgz (checked as unpacked from the archive).
"""
import sys
import tempfile
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO / "charts" / "tgbind-controller"
if CHART.suffix == ".tgz":
    unpacked = Path(tempfile.mkdtemp())
    helm.expand(unpacked, CHART)
    CHART = unpacked / "tgbind-controller"
KUBE_VERSION = "1.30.0"
VALUE_SETS = {
    "defaults": {},
    "irsa": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/tgbind"}}, "region": "eu-west-1"},
    "existing-service-account": {"serviceAccount": {"create": False, "name": "tgbind"}},
    "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
    "one-namespace-one-replica": {"watchNamespaces": ["apps"], "replicaCount": 1, "clusterName": "blue"},
    "webhook": {"webhook": {"enabled": True, "failurePolicy": "Fail"}},
}

# The values files users copy (examples/helm-values) and the Argo CD Application's inline values.
EXAMPLES = REPO / "examples"
for path in sorted((EXAMPLES / "helm-values").glob("*.yaml")):
    VALUE_SETS[f"examples/helm-values/{path.name}"] = yaml.safe_load(path.read_text())
argocd = yaml.safe_load((EXAMPLES / "argocd" / "application.yaml").read_text())
VALUE_SETS["examples/argocd valuesObject"] = argocd["spec"]["source"]["helm"]["valuesObject"]

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


for name, values in VALUE_SETS.items():
    report = helm.lint(str(CHART), values, strict=True, kube_version="v" + KUBE_VERSION)
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
    check(not problems, f"[{name}] helm lint --strict: {problems or 'clean'}")

    rendered = helm.Chart.load(str(CHART)).render(values, name="tgbind", namespace="kube-system", is_install=True)
    docs = [d for path, text in rendered.items() if not path.endswith("NOTES.txt") and text.strip() for d in yaml.safe_load_all(text) if d]
    kinds = sorted(d["kind"] for d in docs)
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
            check(True, f"[{name}] {doc['kind']}/{doc['metadata']['name']} validates")
        except Exception as e:  # noqa: BLE001 - report any schema failure
            check(False, f"[{name}] {doc['kind']}/{doc['metadata']['name']}: {e}")
    for doc in docs:
        if doc["kind"] in ("ClusterRole", "Role"):
            resources = {r for rule in doc["rules"] for r in rule.get("resources", [])}
            check("secrets" not in resources and "*" not in resources, f"[{name}] {doc['kind']} grants no Secrets and no wildcards")
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            c = pod["containers"][0]
            check(pod["securityContext"].get("runAsNonRoot") is True, f"[{name}] runs as non-root")
            check(c["securityContext"].get("readOnlyRootFilesystem") is True, f"[{name}] read-only root filesystem")
            check("requests" in c["resources"] and "limits" in c["resources"], f"[{name}] resource requests and limits")
    if name == "defaults":
        check("PodDisruptionBudget" in kinds and kinds.count("Deployment") == 1, f"[{name}] renders {kinds}")
    if name == "examples/argocd valuesObject":
        check(argocd["spec"]["source"]["path"] == "charts/tgbind-controller", f"[{name}] points at the chart")
    if name == "webhook":
        hooks = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"]
        check(len(hooks) == 1 and hooks[0]["webhooks"][0]["clientConfig"]["caBundle"], f"[{name}] renders the webhook with a CA bundle")
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        check("WEBHOOK_ADDR" in env, f"[{name}] the controller serves the webhook")
    if name == "defaults":
        check(not any(d["kind"] == "MutatingWebhookConfiguration" for d in docs), f"[{name}] no webhook unless enabled")
    if name == "service-monitor":
        check("ServiceMonitor" in kinds, f"[{name}] renders a ServiceMonitor")
    if name == "one-namespace-one-replica":
        check("PodDisruptionBudget" not in kinds, f"[{name}] no PDB for a single replica")

crds = helm.Chart.load(str(CHART)).crds
check(len(crds) == 1 and "TargetGroupBinding" in crds[0]["data"], "chart ships the TargetGroupBinding CRD in crds/")

print(f"{len(failures)} failed" if failures else "chart checks passed")
sys.exit(1 if failures else 0)
