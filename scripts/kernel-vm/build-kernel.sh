#!/usr/bin/env bash
# Builds the two guest kernels from Debian's linux-source-6.12 and caches them outside the repo:
#   $KFD_SVM_CACHE/kernel/<key>/bzImage-svm    x86_64_defconfig + kfd-svm.config (HSA_AMD_SVM=y)
#   $KFD_SVM_CACHE/kernel/<key>/bzImage-nosvm  the same with HSA_AMD_SVM off: kfd_chardev.c then compiles the
#                                              stubs that answer every SVM / SET_XNACK_MODE ioctl with -EPERM,
#                                              as Debian's stock kernels do.
# <key> hashes the fragment, the source package version and the recipe version; a hit is reused as is.
# Env: KFD_SVM_CACHE (default ~/.cache/kfd-svm), JOBS (default: nproc), NICE (default 10).
# Prints the kernel directory on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ensure_packages "$KSRC_PKG" build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils kmod
[ -f "$KSRC_TAR" ] || die "$KSRC_TAR missing after installing $KSRC_PKG"

OUT="$(kernel_dir)"
if [ -s "$OUT/bzImage-svm" ] && [ -s "$OUT/bzImage-nosvm" ]; then
  log "cached kernels: $OUT"
  echo "$OUT"; exit 0
fi

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/build.lock"
flock 9   # one build at a time per cache
if [ -s "$OUT/bzImage-svm" ] && [ -s "$OUT/bzImage-nosvm" ]; then echo "$OUT"; exit 0; fi

VER="$(ksrc_version)"
SRC_ROOT="$CACHE_DIR/src/$VER"
SRC="$SRC_ROOT/linux-source-6.12"
if [ ! -f "$SRC/.unpacked" ]; then
  log "unpacking $KSRC_TAR ($VER)"
  rm -rf "$SRC_ROOT"; mkdir -p "$SRC_ROOT"
  tar -C "$SRC_ROOT" -xf "$KSRC_TAR"
  touch "$SRC/.unpacked"
fi

# Not keyed: with KEEP_OBJ=1 a fragment change rebuilds incrementally.
OBJ="$CACHE_DIR/build/obj-$VER"
mkdir -p "$OBJ" "$OUT"
JOBS="${JOBS:-$(nproc)}"
MAKE=(nice -n "${NICE:-10}" make -C "$SRC" O="$OBJ" -j"$JOBS" KBUILD_BUILD_USER=kfd-svm KBUILD_BUILD_HOST=kernel-vm)

# Every symbol the fragment asks for must survive olddefconfig (an unmet dependency silently drops it).
check_config() {
  local bad=() line sym want
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) sym="${line%%=*}"; want="$line"
        grep -qx "$want" "$OBJ/.config" || bad+=("$want (got: $(grep -E "^(# )?$sym[= ]" "$OBJ/.config" || echo unset))") ;;
      "# CONFIG_"*" is not set") sym="${line#\# }"; sym="${sym%% *}"
        grep -q "^$sym=" "$OBJ/.config" && bad+=("$line (got: $(grep "^$sym=" "$OBJ/.config"))") ;;
    esac
  done < "$1"
  [ ${#bad[@]} -eq 0 ] || die "config fragment not honoured: ${bad[*]}"
}

t0=$(date +%s)
log "configuring (x86_64_defconfig + $(basename "$FRAGMENT")) in $OBJ"
"${MAKE[@]}" x86_64_defconfig >&2
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "$FRAGMENT" >&2
"${MAKE[@]}" olddefconfig >&2
check_config "$FRAGMENT"
log "building bzImage (SVM) with -j$JOBS"
"${MAKE[@]}" bzImage >"$OBJ/build-svm.log" 2>&1 || { tail -40 "$OBJ/build-svm.log" >&2; die "kernel build failed (full log: $OBJ/build-svm.log)"; }
cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage-svm.tmp" && mv "$OUT/bzImage-svm.tmp" "$OUT/bzImage-svm"
cp "$OBJ/.config" "$OUT/config-svm"
t1=$(date +%s)

log "building bzImage (no SVM) incrementally"
"$SRC/scripts/config" --file "$OBJ/.config" -d HSA_AMD_SVM
"${MAKE[@]}" olddefconfig >&2
grep -q '^CONFIG_HSA_AMD_SVM=y' "$OBJ/.config" && die "could not turn HSA_AMD_SVM off"
grep -q '^CONFIG_HSA_AMD=y' "$OBJ/.config" || die "HSA_AMD lost in the no-SVM config"
"${MAKE[@]}" bzImage >"$OBJ/build-nosvm.log" 2>&1 || { tail -40 "$OBJ/build-nosvm.log" >&2; die "kernel build failed (full log: $OBJ/build-nosvm.log)"; }
cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage-nosvm.tmp" && mv "$OUT/bzImage-nosvm.tmp" "$OUT/bzImage-nosvm"
cp "$OBJ/.config" "$OUT/config-nosvm"
t2=$(date +%s)
printf 'source %s %s\nsvm build %ss (-j%s)\nnosvm incremental build %ss\n' "$KSRC_PKG" "$VER" $((t1-t0)) "$JOBS" $((t2-t1)) | tee "$OUT/build-times.txt" >&2
# Keep the object tree only if asked: it is ~3 GB.
[ "${KEEP_OBJ:-0}" = 1 ] || rm -rf "$OBJ"
log "kernels ready: $OUT"
echo "$OUT"
