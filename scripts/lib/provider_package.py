"""Provider release packaging, as the Terraform registry and provider mirrors lay it out.

    provider_package.py VERSION BINARY OUT_DIR [MIRROR_DIR]

Writes to OUT_DIR the release of one version for linux_amd64:
  terraform-provider-elbv2_VERSION_linux_amd64.zip   (holds terraform-provider-elbv2_vVERSION)
  terraform-provider-elbv2_VERSION_manifest.json     (from terraform-registry-manifest.json)
  terraform-provider-elbv2_VERSION_SHA256SUMS        (the zip and the manifest)
  terraform-provider-elbv2_VERSION_H1                (the zip's h1: hash, as lock files record it)
With MIRROR_DIR, also a provider mirror of that version under
MIRROR_DIR/registry.terraform.io/tgbind/elbv2/: the zip (the filesystem_mirror "packed" layout)
next to index.json and VERSION.json (the Provider Network Mirror Protocol), so the same
directory serves `filesystem_mirror` and, behind an HTTPS server, `network_mirror`.
The zip is reproducible: fixed timestamps and mode, so the same binary gives the same hashes.
"""

import base64
import hashlib
import json
import os
import shutil
import sys
import zipfile

NAME = "terraform-provider-elbv2"
PLATFORM = "linux_amd64"
# The provider's address in Terraform (source "tgbind/elbv2" on the default hostname): mirrors
# are laid out by it.
SOURCE = ("registry.terraform.io", "tgbind", "elbv2")


def h1_of_zip(path):
    """Terraform's "h1:" package hash: SHA-256 over the sorted "<sha256>  <name>\\n" lines of
    the files inside the archive (the Go dirhash Hash1 of the unpacked package)."""
    lines = []
    with zipfile.ZipFile(path) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            digest = hashlib.sha256(z.read(info)).hexdigest()
            lines.append(f"{digest}  {info.filename}\n")
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    version, binary, out = sys.argv[1:4]
    mirror = sys.argv[4] if len(sys.argv) > 4 else None
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.makedirs(out, exist_ok=True)
    base = f"{NAME}_{version}"
    zip_name = f"{base}_{PLATFORM}.zip"
    zip_path = os.path.join(out, zip_name)
    with open(binary, "rb") as f:
        executable = f.read()
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(f"{NAME}_v{version}", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        info.create_system = 3
        z.writestr(info, executable, compress_type=zipfile.ZIP_DEFLATED)
    manifest_name = f"{base}_manifest.json"
    shutil.copyfile(os.path.join(root, "terraform-registry-manifest.json"), os.path.join(out, manifest_name))
    sums_name = f"{base}_SHA256SUMS"
    with open(os.path.join(out, sums_name), "w") as f:
        for name in (zip_name, manifest_name):
            f.write(f"{sha256_file(os.path.join(out, name))}  {name}\n")
    h1 = h1_of_zip(zip_path)
    with open(os.path.join(out, f"{base}_H1"), "w") as f:
        f.write(h1 + "\n")
    if mirror:
        where = os.path.join(mirror, *SOURCE)
        os.makedirs(where, exist_ok=True)
        shutil.copyfile(zip_path, os.path.join(where, zip_name))
        index_path = os.path.join(where, "index.json")
        versions = {}
        if os.path.exists(index_path):
            with open(index_path) as f:
                versions = json.load(f).get("versions", {})
        versions[version] = {}
        with open(index_path, "w") as f:
            json.dump({"versions": versions}, f, indent=2)
        archives = {PLATFORM: {"url": zip_name, "hashes": [h1, "zh:" + sha256_file(zip_path)]}}
        with open(os.path.join(where, f"{version}.json"), "w") as f:
            json.dump({"archives": archives}, f, indent=2)
    print(f"{zip_name} {h1}")


if __name__ == "__main__":
    main()
