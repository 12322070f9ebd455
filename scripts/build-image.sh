#!/usr/bin/env bash
# Builds the tgbind-controller container image without a container engine: a static binary
# (glibc, `-C target-feature=+crt-static`), a root filesystem from scratch (the binary, the CA
# bundle, /etc/passwd and /etc/group with the non-root user 65532, /etc/nsswitch.conf, /tmp) and
# an OCI image made with Debian's umoci, copied with skopeo (both unpacked into the cache, nothing
# installed system-wide).
#
#   build-image.sh [--out DIR] [--binary PATH] [--profile release|dev]
#
# Writes to DIR (default $TGBIND_CACHE/dist/image):
#   tgbind-controller-VERSION.oci.tar     OCI archive (podman load, skopeo copy oci-archive:...)
#   tgbind-controller-VERSION.docker.tar  docker-archive tagged tgbind/tgbind-controller:VERSION
#                                         (docker load, kind load image-archive, k3d image import,
#                                         ctr -n k8s.io images import)
#   context/                              the build context of the COPY-only Containerfile
#   oci/                                  the OCI layout itself
# VERSION is the controller crate's version, which is also the chart's appVersion and the default
# image tag of the chart. --binary packages a given static binary instead of building one.
# --profile dev builds an unoptimised static binary, minutes faster from a cold cache (the tests use
# it: they check the packaging and the running, not the optimiser); images to ship use release.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib/apt.sh
log() { printf '[image] %s\n' "$*" >&2; }

OUT="$TGBIND_CACHE/dist/image" BINARY="" PROFILE=release
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' controller/Cargo.toml | sed -n 1p)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_URL=${TGBIND_SOURCE_URL:-$(git config --get remote.origin.url 2>/dev/null || echo unknown)}
REPOSITORY=tgbind/tgbind-controller

# The image tools, unpacked once into the cache.
TOOLS="$TGBIND_CACHE/imagetools"
if [ ! -x "$TOOLS/root/usr/bin/umoci" ] || [ ! -x "$TOOLS/root/usr/bin/skopeo" ]; then
  log "fetching umoci and skopeo (Debian packages, unpacked into $TOOLS)"
  rm -rf "$TOOLS"
  apt_private "$TOOLS"
  apt_unpack "$TOOLS" "$TOOLS/root" umoci skopeo libgpgme11
fi
UMOCI="$TOOLS/root/usr/bin/umoci"
skopeo() { LD_LIBRARY_PATH="$TOOLS/root/usr/lib/x86_64-linux-gnu" "$TOOLS/root/usr/bin/skopeo" --insecure-policy "$@"; }

if [ -z "$BINARY" ]; then
  log "building a static tgbind-controller ($PROFILE, glibc with crt-static)"
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile "$PROFILE" --target x86_64-unknown-linux-gnu -p tgbind-controller
  dir=$PROFILE
  [ "$PROFILE" = dev ] && dir=debug # cargo's directory for the dev profile
  BINARY="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/$dir/tgbind-controller"
fi
# A static binary has no program interpreter (static-pie included); the image has no libraries.
headers=$(readelf -l "$BINARY")
if [[ "$headers" == *"Requesting program interpreter"* ]]; then
  echo "build-image.sh: $BINARY is dynamically linked; the image has no libraries for it" >&2
  exit 1
fi

# The build context: what the Containerfile copies, file by file.
CONTEXT="$OUT/context"
rm -rf "$CONTEXT" && mkdir -p "$CONTEXT/rootfs/etc/ssl/certs" "$CONTEXT/rootfs/tmp"
cp Containerfile "$CONTEXT/Containerfile"
install -m 0755 "$BINARY" "$CONTEXT/rootfs/tgbind-controller"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$CONTEXT/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$CONTEXT/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$CONTEXT/rootfs/etc/group"
# glibc's static resolver reads these: names from files, then DNS (resolv.conf comes from the kubelet).
printf 'hosts: files dns\n' >"$CONTEXT/rootfs/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$CONTEXT/rootfs/etc/hosts"
chmod 1777 "$CONTEXT/rootfs/tmp"

log "assembling the OCI image $REPOSITORY:$VERSION"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
rm -rf "$OUT/oci"
"$UMOCI" init --layout "$OUT/oci"
"$UMOCI" new --image "$OUT/oci:$VERSION"
"$UMOCI" unpack --image "$OUT/oci:$VERSION" "$W/bundle" >/dev/null
cp -a "$CONTEXT/rootfs/." "$W/bundle/rootfs/"
"$UMOCI" repack --image "$OUT/oci:$VERSION" "$W/bundle" >/dev/null
labels=()
for kv in "version=$VERSION" "revision=$REVISION" "source=$SOURCE_URL" "title=tgbind-controller" \
  "description=TargetGroupBinding controller: keeps Service endpoints registered in AWS target groups" "licenses=Apache-2.0"; do
  labels+=(--config.label "org.opencontainers.image.$kv" --manifest.annotation "org.opencontainers.image.$kv")
done
"$UMOCI" config --image "$OUT/oci:$VERSION" --os linux --architecture amd64 \
  --config.user 65532:65532 --config.entrypoint /tgbind-controller --config.cmd run --config.workingdir / \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "${labels[@]}"
"$UMOCI" gc --layout "$OUT/oci"

rm -f "$OUT"/tgbind-controller-*.tar
skopeo copy --quiet "oci:$OUT/oci:$VERSION" "oci-archive:$OUT/tgbind-controller-$VERSION.oci.tar:$REPOSITORY:$VERSION"
skopeo copy --quiet "oci:$OUT/oci:$VERSION" "docker-archive:$OUT/tgbind-controller-$VERSION.docker.tar:$REPOSITORY:$VERSION"
log "wrote $OUT/tgbind-controller-$VERSION.oci.tar and $OUT/tgbind-controller-$VERSION.docker.tar ($REPOSITORY:$VERSION)"
