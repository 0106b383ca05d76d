# Shared helpers for scripts/kernel-vm/*.sh (sourced, not executed).
KVM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$KVM_DIR/../.." && pwd)"
CACHE_DIR="${KFD_SVM_CACHE:-$HOME/.cache/kfd-svm}"
KSRC_PKG=linux-source-6.12
KSRC_TAR=/usr/src/linux-source-6.12.tar.xz
FRAGMENT="$KVM_DIR/kfd-svm.config"
# Bump when the build recipe in build-kernel.sh changes in a way that changes the output.
RECIPE_VERSION=1

log() { printf '[kernel-vm] %s\n' "$*" >&2; }
die() { printf '[kernel-vm] ERROR: %s\n' "$*" >&2; exit 1; }
# The machine cannot provide a prerequisite at all (no root or sudo for apt-get): exit status 3, so a caller
# can tell "this machine cannot run the guests" from "something failed". A failing apt-get is a failure.
EX_UNAVAILABLE=3
die_unavailable() { printf '[kernel-vm] UNAVAILABLE: %s\n' "$*" >&2; exit "$EX_UNAVAILABLE"; }

# apt-get install the packages that are not installed yet (root, or sudo without a password).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || die_unavailable "need root (or passwordless sudo) to apt-get install: ${missing[*]}"
    SUDO=(sudo -n)
  fi
  log "apt-get install ${missing[*]}"
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    "${SUDO[@]}" apt-get update >&2 || true
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
      || die "apt-get install failed for: ${missing[*]}"
  fi
}

ksrc_version() { dpkg-query -W -f='${Version}' "$KSRC_PKG" 2>/dev/null; }

# Cache key: the fragment's bytes, the Debian source package version and the recipe version.
kernel_key() {
  { cat "$FRAGMENT"; echo "src=$KSRC_PKG $(ksrc_version)"; echo "recipe=$RECIPE_VERSION"; } | sha256sum | cut -c1-16
}
kernel_dir() { echo "$CACHE_DIR/kernel/$(kernel_key)"; }
