#!/usr/bin/env bash
# A real kube-apiserver + etcd on loopback, envtest-style (no kubelet, scheduler or controllers).
#   local-apiserver.sh start DIR   state, logs and pid files in DIR; writes DIR/kubeconfig (admin token,
#                                  CA-verified TLS) and DIR/port. Extra token users: DIR/extra-tokens.csv
#                                  (token,user,uid,"groups" lines), e.g. a ServiceAccount identity.
#   local-apiserver.sh stop DIR    stops both and waits for them to exit.
# Binaries come from scripts/build-kube-apiserver.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
BIN=${TGBIND_KUBE_BIN:-$TGBIND_CACHE/kube/bin}
cmd=${1:?usage: local-apiserver.sh start|stop DIR}
R=${2:?usage: local-apiserver.sh start|stop DIR}
ADMIN_TOKEN=tgbind-local-admin

stop() {
  for p in apiserver etcd; do
    [ -f "$R/$p.pid" ] || continue
    pid=$(cat "$R/$p.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$R/$p.pid"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$R"
rm -rf "$R/etcd-data" "$R/certs"
ETCD_PORT=$(free_port) PEER_PORT=$(free_port) API_PORT=$(free_port)
[ -f "$R/sa.key" ] || openssl genrsa -out "$R/sa.key" 2048 2>/dev/null
echo "$ADMIN_TOKEN,admin,admin,\"system:masters\"" >"$R/tokens.csv"
[ -f "$R/extra-tokens.csv" ] && cat "$R/extra-tokens.csv" >>"$R/tokens.csv"

"$BIN/etcd" --data-dir "$R/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "default=http://127.0.0.1:$PEER_PORT" >"$R/etcd.log" 2>&1 &
echo $! >"$R/etcd.pid"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && break; sleep 0.1; done

"$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" --cert-dir="$R/certs" \
  --token-auth-file="$R/tokens.csv" --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$R/sa.key" \
  --service-account-signing-key-file="$R/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
  --disable-admission-plugins=ServiceAccount --allow-privileged=true >"$R/apiserver.log" 2>&1 &
echo $! >"$R/apiserver.pid"
echo "$API_PORT" >"$R/port"
cat >"$R/kubeconfig" <<K
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $R/certs/apiserver.crt
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
K
for _ in $(seq 600); do
  if curl -skf -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$API_PORT/readyz" >/dev/null; then
    exit 0
  fi
  sleep 0.1
done
echo "kube-apiserver did not become ready; last log lines:" >&2
tail -20 "$R/apiserver.log" >&2
stop
exit 1
