# shellcheck shell=bash
# Sourced by driver.sh: the Debian trixie chroot that holds the Swift toolchain (Debian 12 has
# no Swift package; Debian 13 has `swiftlang`). We are root, so `chroot` is enough to enter it.
#
# Mounts: every command that enters the chroot runs in its own private mount namespace
# (`unshare --mount`), and the only mount it makes (/proc, which swiftc and the Swift runtime
# read) lives in that namespace alone: the kernel drops it when the last process in the namespace
# exits, however that happens (exit, error, SIGKILL of the process group). Nothing is ever mounted
# in the machine's own namespace, so no run can leave a mount behind there; `clean_stale_mounts`
# still removes any it finds under the chroot (from a killed tool that mounted without a
# namespace) before the chroot is used or deleted.

# shellcheck source=../../../scripts/lib/apt.sh
source scripts/lib/apt.sh

swift_root() { echo "$(tools_dir)/swift-trixie"; }

# Marks a finished install; a chroot without it is half-made and is rebuilt from scratch.
swift_stamp() { echo "$(swift_root)/.roomlink-swift-ready"; }

# The Debian mirror this machine's apt uses, read at run time (never written into the project).
debian_mirror() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    # deb822 stanzas: the first `URIs:` of a `Types: deb` stanza that is not the security archive.
    uri="$(awk '
      /^[[:space:]]*$/ { if (deb && uris != "" && uris !~ /security/) { print uris; exit } deb = 0; uris = ""; next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:" { uris = $2 }
      END { if (deb && uris != "" && uris !~ /security/) print uris }
    ' /etc/apt/sources.list.d/*.sources | head -n 1)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    # One-line format: `deb [options] URI suite components`.
    uri="$(sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
      /etc/apt/sources.list | grep -v security | head -n 1)"
  fi
  if [ -z "$uri" ]; then
    echo "swift setup: no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
    return 1
  fi
  echo "$uri"
}

# Unmounts (deepest first) anything mounted under the chroot in this namespace.
clean_stale_mounts() {
  local root target
  root="$(swift_root)"
  # mountinfo field 5 is the mount point, with spaces escaped as \040.
  awk -v root="$root" '$5 == root || index($5, root "/") == 1 { print $5 }' /proc/self/mountinfo \
    | sort -r | while read -r target; do
      target="$(printf '%b' "$target")"
      echo "swift: unmounting stale mount $target" >&2
      umount "$target" 2>/dev/null || umount -l "$target"
    done
}

# chroot, unshare and debootstrap need root; say so instead of failing halfway.
swift_needs_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  echo "the Swift driver runs in a chroot (Debian 12 has no Swift), which needs root"
  return 1
}

swift_chroot_ready() { [ -f "$(swift_stamp)" ] && [ -x "$(swift_root)/usr/bin/swiftc" ]; }

# Runs a command inside the chroot, in a private mount namespace with /proc mounted.
# `exec`-style: unshare and chroot replace themselves, so the command keeps this process's ID and
# process group (the orchestrator's kill of the group reaches it).
in_chroot() {
  local root
  root="$(swift_root)"
  # shellcheck disable=SC2016 # expanded by the inner shell
  exec unshare --mount --propagation private -- /bin/sh -c '
    root="$1"; shift
    mount -t proc proc "$root/proc" || exit 1
    exec chroot "$root" "$@"
  ' sh "$root" "$@"
}

# Creates the chroot if it is not complete yet. Idempotent; prints progress.
swift_setup() {
  local root mirror start
  swift_needs_root >&2 || return 1
  root="$(swift_root)"
  clean_stale_mounts
  if swift_chroot_ready; then
    return 0
  fi
  start=$SECONDS
  if [ -e "$root" ]; then
    echo "== swift setup: removing the unfinished chroot $root"
    # --one-file-system: never descend into something still mounted there.
    rm -rf --one-file-system "$root"
  fi
  apt_install debootstrap
  mirror="$(debian_mirror)"
  echo "== swift setup: debootstrap trixie into $root (minbase, a few minutes)"
  mkdir -p "$root"
  # debootstrap mounts /proc and /sys in the target while it works: keep them in a private
  # namespace too, so an interrupted debootstrap cannot leave them mounted.
  unshare --mount --propagation private -- \
    debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
    echo "swift setup: debootstrap failed; the end of its log ($root.debootstrap.log):" >&2
    tail -n 20 "$root.debootstrap.log" >&2
    return 1
  }
  echo "== swift setup: apt-get install swiftlang in the chroot (about 500 MB)"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  (in_chroot /usr/bin/env DEBIAN_FRONTEND=noninteractive /bin/sh -c \
    'apt-get update -qq && apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends swiftlang libc6-dev >/dev/null && apt-get clean')
  # The chroot only runs swiftc and the driver: drop the package lists (space) and its copy of
  # the machine's apt sources.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
  rm -f "$root.debootstrap.log"
  touch "$(swift_stamp)"
  echo "== swift setup: chroot ready in $((SECONDS - start)) s ($(du -sh --one-file-system "$root" | cut -f1))"
}
