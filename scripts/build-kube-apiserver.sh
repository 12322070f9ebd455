#!/usr/bin/env bash
# Builds a real kube-apiserver (v1.20.2) and takes etcd 3.4, entirely from Debian's packages: the
# `kubernetes` source package compiled with Debian's Go 1.19, and the `etcd-server` binary package.
# Tests run them on loopback, envtest-style (no kubelet or scheduler). Output: $OUT/bin/{kube-apiserver,etcd}.
# Idempotent; about 3 minutes and 2 GB of scratch space cold on 2 cores.
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT=${OUT:-$TGBIND_CACHE/kube}
W=$OUT/work
log() { printf '[kube-apiserver] %s\n' "$*" >&2; }
if [ -x "$OUT/bin/kube-apiserver" ] && [ -x "$OUT/bin/etcd" ]; then
  log "already built ($OUT/bin)"
  exit 0
fi
mkdir -p "$OUT/bin"
# A private apt state with the machine's own Debian sources plus deb-src: nothing system-wide changes.
source "$(dirname "$0")/lib/apt.sh"

log "fetching Go 1.19, etcd and the kubernetes source package"
apt_private "$W"
apt_unpack "$W" "$W/root" golang-1.19-go golang-1.19-src etcd-server golang-github-modern-go-reflect2-dev
cp "$W/root/usr/bin/etcd" "$OUT/bin/etcd"
(cd "$W" && apt-get "${APT[@]}" source --download-only -qq kubernetes)

SRC=$W/gopath/src/k8s.io/kubernetes
rm -rf "$W/gopath" && mkdir -p "$(dirname "$SRC")"
tar xzf "$W"/kubernetes_*.orig.tar.gz -C "$W" && mv "$W"/kubernetes-1.20.* "$SRC"
# Go >= 1.18 needs reflect2 >= 1.0.2 (the vendored 1.0.1 crashes in map iteration): use Debian's.
rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
cp -r "$W/root/usr/share/gocode/src/github.com/modern-go/reflect2" "$SRC/vendor/github.com/modern-go/reflect2"

export GOROOT=$W/root/usr/lib/go-1.19 PATH=$W/root/usr/lib/go-1.19/bin:$PATH
export GO111MODULE=off GOPATH=$W/gopath GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOCACHE=${GOCACHE:-$W/gocache}
cd "$SRC"
log "generating OpenAPI definitions (not shipped in the source tarball)"
go build -o "$W/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
find -H . \( -not \( \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune \) \) -type f -name '*.go' |
  sed 's|^./staging/src|vendor|; s|/[^/]*$||; s|^./||' | LC_ALL=C sort -u |
  while read -r d; do grep -l '^// *+k8s:' "$d"/*.go 2>/dev/null | xargs -r grep -l '+k8s:openapi-gen=' | sed -n 1p | xargs -r dirname || true; done |
  grep -vE '^vendor/k8s.io/(code-generator|sample-apiserver)/' | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, >"$W/openapi-inputs"
"$W/openapi-gen" -i "$(cat "$W/openapi-inputs")" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
  -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$W/openapi-violations.report"
log "compiling kube-apiserver"
V=k8s.io/kubernetes/vendor/k8s.io
LD="-s -w"
for p in component-base/version client-go/pkg/version; do
  LD="$LD -X $V/$p.gitVersion=v1.20.2 -X $V/$p.gitMajor=1 -X $V/$p.gitMinor=20 -X $V/$p.gitTreeState=clean"
done
go build -ldflags "$LD" -o "$OUT/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
# The scratch tree is large and not needed again.
rm -rf "$W/gopath" "$W/gocache"
"$OUT/bin/kube-apiserver" --version
# No `| head` here: under pipefail a closed pipe (SIGPIPE) fails the whole build by chance.
"$OUT/bin/etcd" --version >"$W/etcd-version"
sed -n 1p "$W/etcd-version"
