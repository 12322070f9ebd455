# Debian packages fetched with a private apt state (the machine's own Debian sources, plus deb-src)
# and unpacked into a folder: nothing system-wide changes. Source it under `set -euo pipefail`.

# apt_private DIR: prepares DIR/apt and sets APT (the apt-get options) for the calls below.
apt_private() {
  local dir=$1
  mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/apt/parts"
  sed 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources >"$dir/apt/parts/debian.sources"
  APT=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/apt/parts" -o "Dir::State::Lists=$dir/apt/lists"
    -o "Dir::Cache=$dir/apt/cache" -o APT::Sandbox::User=root)
  apt-get "${APT[@]}" update -qq
}

# apt_unpack DIR ROOT PACKAGE...: downloads the packages (not their dependencies) into DIR/debs
# and unpacks them under ROOT.
apt_unpack() {
  local dir=$1 root=$2
  shift 2
  mkdir -p "$dir/debs" "$root"
  (cd "$dir/debs" && apt-get "${APT[@]}" download -qq "$@")
  local deb
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$root"; done
}
