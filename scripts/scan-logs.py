#!/usr/bin/env python3
"""Fails if any log the test suite kept contains a credential or token.

scripts/test.sh runs the suite with TGBIND_TEST_LOGS set: the cargo test output, the logs of every
controller, kube-apiserver, moto_server and provider process the tests start (Terraform, and the
provider under it, at TF_LOG=debug), and the walkthroughs' logs land there. The suite uses the
distinctive credentials of testkit/src/secrets.rs everywhere, so finding one of them (or any private
key) in a log means something logged a secret.

Usage: scan-logs.py DIR        scan every file under DIR
       scan-logs.py --self-test  show that a planted secret is found and a clean log passes
"""
import os
import re
import sys
import tempfile
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRETS_RS = os.path.join(ROOT, "testkit/src/secrets.rs")
# Each kind of log the scan must have seen, so an empty or partial directory cannot pass.
EXPECTED_KINDS = ["cargo-test", "controller-", "kube-apiserver-", "terraform-", "provider-", "moto-", "quickstart-", "cluster-migration-"]
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def secrets():
    text = open(SECRETS_RS).read()
    found = dict(re.findall(r'pub const ([A-Z_]+): &str = "([^"]+)";', text))
    assert {"AWS_SECRET_ACCESS_KEY", "ADMIN_TOKEN", "SERVICE_ACCOUNT_TOKEN"} <= found.keys(), found
    # The walkthrough scripts must use the same values, or their logs would be scanned for nothing.
    for script, names in [("scripts/lib/demo.sh", ["AWS_SECRET_ACCESS_KEY"]), ("scripts/local-apiserver.sh", ["ADMIN_TOKEN"])]:
        body = open(os.path.join(ROOT, script)).read()
        for name in names:
            assert found[name] in body, f"{script} does not use testkit's {name}"
    needles = {}
    for name, value in found.items():
        if name == "AWS_ACCESS_KEY_ID":
            continue  # an access key ID is not a secret (it appears in every signed request's scope)
        needles[value.encode()] = name
        needles[urllib.parse.quote(value, safe="").encode()] = name + " (URL-encoded)"
    return needles


def scan(directory, needles):
    """Returns (findings, files by kind, bytes scanned)."""
    findings, kinds, total = [], {}, 0
    for base, _, files in os.walk(directory):
        for f in sorted(files):
            path = os.path.join(base, f)
            data = open(path, "rb").read()
            total += len(data)
            for kind in EXPECTED_KINDS:
                if f.startswith(kind):
                    kinds[kind] = kinds.get(kind, 0) + 1
            for needle, name in needles.items():
                at = data.find(needle)
                if at >= 0:
                    line = data[:at].count(b"\n") + 1
                    findings.append(f"{path}:{line}: {name}")
            for m in PRIVATE_KEY.finditer(data):
                line = data[: m.start()].count(b"\n") + 1
                findings.append(f"{path}:{line}: a private key")
    return findings, kinds, total


def self_test(needles):
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "clean.log"), "w").write("registered 3 targets\n")
        assert scan(d, needles)[0] == [], "a clean log must pass"
        secret = next(v for v, n in needles.items() if n == "AWS_SECRET_ACCESS_KEY")
        open(os.path.join(d, "leak.log"), "wb").write(b"line one\nheader: " + secret + b"\n")
        found = scan(d, needles)[0]
        assert len(found) == 1 and found[0].endswith("leak.log:2: AWS_SECRET_ACCESS_KEY"), found
        open(os.path.join(d, "key.log"), "w").write("-----BEGIN EC PRIVATE KEY-----\n")
        assert len(scan(d, needles)[0]) == 2
    print("scan-logs self-test: a planted secret and a private key are found, a clean log passes")


def main():
    needles = secrets()
    if sys.argv[1:] == ["--self-test"]:
        self_test(needles)
        return 0
    (directory,) = sys.argv[1:]
    findings, kinds, total = scan(directory, needles)
    missing = [k for k in EXPECTED_KINDS if k not in kinds]
    summary = ", ".join(f"{kinds.get(k, 0)} {k.rstrip('-')}" for k in EXPECTED_KINDS)
    print(f"scanned {total / 1e6:.1f} MB of logs ({summary}) for {len(needles)} credential forms and private keys")
    if missing:
        print(f"FAIL: no {', '.join(missing)} logs were kept: the scan would not cover the suite")
        return 1
    if findings:
        print("FAIL: credentials or keys in the suite's logs:\n  " + "\n  ".join(findings[:50]))
        return 1
    print("no credentials, tokens or private keys in the suite's logs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
