#!/usr/bin/env bash
# Writes a release of terraform-provider-elbv2 in the layout the Terraform registry and provider
# mirrors use, so `terraform init` installs it with checksums and a lock file.
#
#   release-provider.sh [--version X.Y.Z] [--binary PATH] [--out DIR] [--mirror DIR] [--gpg-key KEY]
#
#   --version  the release version (default: provider/Cargo.toml's)
#   --binary   the provider binary to package (default: a fresh `cargo build --release`)
#   --out      where the release files go (default: $TGBIND_CACHE/dist/provider)
#   --mirror   also lay out a provider mirror there, usable as `filesystem_mirror { path = DIR }`
#              and, served over HTTPS, as `network_mirror { url = "https://host/" }`
#   --gpg-key  sign the SHA256SUMS file with this GnuPG key (a detached `_SHA256SUMS.sig`)
# The files: terraform-provider-elbv2_X.Y.Z_linux_amd64.zip (binary terraform-provider-elbv2_vX.Y.Z),
# _manifest.json (protocol_versions 6.0, from terraform-registry-manifest.json), _SHA256SUMS
# (the zip and the manifest), _SHA256SUMS.sig with --gpg-key, and _H1 (the zip's h1: hash).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' provider/Cargo.toml | sed -n 1p)
BINARY="" OUT="$TGBIND_CACHE/dist/provider" MIRROR="" GPG_KEY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) VERSION=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --mirror) MIRROR=$2; shift 2 ;;
    --gpg-key) GPG_KEY=$2; shift 2 ;;
    *) echo "release-provider.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "release-provider.sh: version $VERSION is not X.Y.Z" >&2; exit 2; }

if [ -z "$BINARY" ]; then
  cargo build --release -p terraform-provider-elbv2
  BINARY="$CARGO_TARGET_DIR/release/terraform-provider-elbv2"
fi
[ -x "$BINARY" ] || { echo "release-provider.sh: no provider binary at $BINARY" >&2; exit 1; }

python3 scripts/lib/provider_package.py "$VERSION" "$BINARY" "$OUT" ${MIRROR:+"$MIRROR"}
if [ -n "$GPG_KEY" ]; then
  sums="$OUT/terraform-provider-elbv2_${VERSION}_SHA256SUMS"
  rm -f "$sums.sig"
  gpg --batch --yes --local-user "$GPG_KEY" --output "$sums.sig" --detach-sign "$sums"
fi
echo "release $VERSION written to $OUT${MIRROR:+ (mirror: $MIRROR)}"
