# shellcheck shell=bash
# Sourced by setup scripts: installs Debian packages that are missing, once, with the machine's
# own apt configuration (no host names here). Needs root, or sudo without a password.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "apt_install: need root (or sudo) to install: ${missing[*]}" >&2
      return 1
    fi
    sudo=(sudo -n)
  fi
  echo "== setup: apt-get install ${missing[*]}"
  # A fresh machine may have no package lists yet; refresh once per run of the setup.
  if [ -z "${ROOMLINK_APT_UPDATED:-}" ]; then
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
    export ROOMLINK_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
}

# Where project scripts keep tools they fetch (npm packages, the Swift chroot): git-ignored.
tools_dir() {
  local dir="${ROOMLINK_TOOLS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.tools}"
  mkdir -p "$dir"
  echo "$dir"
}
