#!/usr/bin/env bash
# A real kube-apiserver + etcd on loopback, envtest-style (no kubelet, scheduler or controllers).
#   local-apiserver.sh start DIR   state, logs and pid files in DIR; writes DIR/kubeconfig (admin token,
#                                  CA-verified TLS) and DIR/port. Extra token users: DIR/extra-tokens.csv
#                                  (token,user,uid,"groups" lines), e.g. a ServiceAccount identity.
#   local-apiserver.sh stop DIR    stops both and waits for them to exit.
#   local-apiserver.sh restart-apiserver DIR
#                                  restarts kube-apiserver alone on the same port, etcd untouched (tests
#                                  of broken watches). APISERVER_EXTRA_ARGS adds flags (start and
#                                  restart), e.g. --watch-cache=false so watches go to etcd directly;
#                                  APISERVER_DOWN_SECONDS keeps it down that long (an outage).
#   local-apiserver.sh compact DIR compacts etcd at its current revision, so watches resuming from an
#                                  older resourceVersion get 410 Gone.
# Binaries come from scripts/build-kube-apiserver.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
BIN=${TGBIND_KUBE_BIN:-$TGBIND_CACHE/kube/bin}
cmd=${1:?usage: local-apiserver.sh start|stop|restart-apiserver|compact DIR}
R=${2:?usage: local-apiserver.sh start|stop|restart-apiserver|compact DIR}
ADMIN_TOKEN=tgbind-local-admin-7Hq2vR # testkit/src/secrets.rs

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

# launch_apiserver: kube-apiserver on $API_PORT against etcd on $ETCD_PORT, in the background.
launch_apiserver() {
  "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" --cert-dir="$R/certs" \
    --token-auth-file="$R/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$R/sa.key" \
    --service-account-signing-key-file="$R/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true ${APISERVER_EXTRA_ARGS:-} >"$R/apiserver.log" 2>&1 &
}

wait_ready() {
  local pid
  pid=$(cat "$R/apiserver.pid" 2>/dev/null || true)
  for _ in $(seq 600); do
    curl -skf --max-time 2 -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$API_PORT/readyz" >/dev/null && return 0
    # Exited (its port taken, say): no use waiting out the minute.
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.1
  done
  echo "kube-apiserver did not become ready within 60 s; log: $R/apiserver.log (last lines below)" >&2
  tail -20 "$R/apiserver.log" >&2
  return 1
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
if [ "$cmd" = restart-apiserver ]; then
  read -r ETCD_PORT API_PORT <"$R/ports"
  pid=$(cat "$R/apiserver.pid")
  # SIGTERM alone lets the old process keep serving open watches while the new one takes the port,
  # so watches would never break: after a moment, kill it outright.
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # An outage of a set length (APISERVER_DOWN_SECONDS), e.g. longer than a lease.
  sleep "${APISERVER_DOWN_SECONDS:-0}"
  launch_apiserver
  echo $! >"$R/apiserver.pid"
  wait_ready
  exit $?
fi
if [ "$cmd" = compact ]; then
  read -r ETCD_PORT API_PORT <"$R/ports"
  rev=$(curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/range" -d '{"key":"AA=="}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
  curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/compaction" -d "{\"revision\": \"$rev\", \"physical\": true}" >/dev/null
  echo "$rev"
  exit 0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A port found free can be taken (by another test's connection, say) before etcd or kube-apiserver
# binds it: each start is tried again on fresh ports when its log says the address is in use.
port_taken() { grep -q "address already in use" "$1"; }
mkdir -p "$R"
rm -rf "$R/certs"
[ -f "$R/sa.key" ] || openssl genrsa -out "$R/sa.key" 2048 2>/dev/null
echo "$ADMIN_TOKEN,admin,admin,\"system:masters\"" >"$R/tokens.csv"
[ -f "$R/extra-tokens.csv" ] && cat "$R/extra-tokens.csv" >>"$R/tokens.csv"

etcd_up=""
for attempt in 1 2 3 4 5; do
  rm -rf "$R/etcd-data"
  ETCD_PORT=$(free_port) PEER_PORT=$(free_port)
  "$BIN/etcd" --data-dir "$R/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$PEER_PORT" >"$R/etcd.log" 2>&1 &
  etcd_pid=$!
  echo "$etcd_pid" >"$R/etcd.pid"
  for _ in $(seq 300); do
    curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && { etcd_up=1; break; }
    kill -0 "$etcd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$etcd_up" ] && break
  kill -0 "$etcd_pid" 2>/dev/null || ! port_taken "$R/etcd.log" || { echo "etcd: a port was taken, trying others (attempt $attempt)" >&2; continue; }
  break
done
if [ -z "$etcd_up" ]; then
  echo "etcd did not answer on port $ETCD_PORT within 30 s; log: $R/etcd.log (last lines below)" >&2
  tail -n 20 "$R/etcd.log" >&2
  stop
  exit 1
fi

API_PORT=$(free_port)
launch_apiserver
echo $! >"$R/apiserver.pid"
echo "$API_PORT" >"$R/port"
echo "$ETCD_PORT $API_PORT" >"$R/ports"
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
for attempt in 1 2 3 4; do
  wait_ready 2>"$R/wait.err" && break
  if port_taken "$R/apiserver.log" && [ "$attempt" -lt 4 ]; then
    echo "kube-apiserver: port $API_PORT was taken, trying another (attempt $attempt)" >&2
    API_PORT=$(free_port)
    sed -i "s|https://127.0.0.1:[0-9]*|https://127.0.0.1:$API_PORT|" "$R/kubeconfig"
    echo "$API_PORT" >"$R/port"
    echo "$ETCD_PORT $API_PORT" >"$R/ports"
    launch_apiserver
    echo $! >"$R/apiserver.pid"
    continue
  fi
  cat "$R/wait.err" >&2
  stop
  exit 1
done
