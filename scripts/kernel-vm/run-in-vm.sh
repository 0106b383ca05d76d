#!/usr/bin/env bash
# Boots a kernel from build-kernel.sh under QEMU (TCG) and runs a command from the host's file system
# inside the guest, as root, with the repo as working directory. The host root is mounted read-only over
# 9p and chrooted into, so the guest runs the host's node on the host's checkout; /tmp, /dev/shm and $HOME
# are tmpfs. Returns the command's exit status; writes console.log, dmesg.txt, iomem-root.txt and
# exit-code into the output directory.
#
# usage: run-in-vm.sh [--kernel svm|nosvm] [--mode hmm|dax] [--out DIR] [--timeout SEC] -- CMD [ARGS...]
#   --kernel svm    (default) HSA_AMD_SVM=y;  nosvm: the same kernel with HSA_AMD_SVM off (EPERM stubs)
#   --mode hmm      (default) two 256 MiB Soft Reserved ranges handed to test_hmm (dmirror2/3 coherent);
#                   dax: the same ranges left to dax_hmem/device_dax (hmem.N / dax children in iomem)
# Env: KFD_SVM_CACHE, QEMU_MEM (default 3G), QEMU_SMP (default 2).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KERNEL=svm MODE=hmm OUT="" TIMEOUT="${KVM_TIMEOUT:-900}"
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL="$2"; shift 2 ;;
    --mode) MODE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option $1 (usage: run-in-vm.sh [--kernel svm|nosvm] [--mode hmm|dax] [--out DIR] [--timeout SEC] -- CMD...)" ;;
  esac
done
[ $# -gt 0 ] || die "no command given"
case "$KERNEL" in svm|nosvm) ;; *) die "--kernel must be svm or nosvm" ;; esac
case "$MODE" in hmm|dax) ;; *) die "--mode must be hmm or dax" ;; esac

ensure_packages qemu-system-x86 busybox-static cpio gzip
KDIR="$(kernel_dir)"
BZ="$KDIR/bzImage-$KERNEL"
[ -s "$BZ" ] || die "no kernel at $BZ: run scripts/kernel-vm/build-kernel.sh first"
HELPER="$("$KVM_DIR/build-helper.sh")"
NODE="$(command -v node)" || die "node not found on the host"

OUT="${OUT:-$(mktemp -d /tmp/kfd-svm-vm.XXXXXX)}"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT/exit-code" "$OUT/dmesg.txt" "$OUT/console.log" "$OUT/hmm-helper"
WORK="$(mktemp -d /tmp/kfd-svm-initramfs.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# --- initramfs: busybox + /init + the command -------------------------------------------------------
mkdir -p "$WORK/root/bin" "$WORK/root/proc" "$WORK/root/sys" "$WORK/root/dev" "$WORK/root/host" "$WORK/root/out"
cp /bin/busybox "$WORK/root/bin/busybox"
{
  printf 'cd %q\n' "$REPO_DIR"
  printf 'export PATH=%q:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' "$(dirname "$NODE")"
  printf 'export HOME=/tmp/home KFD_SVM_IN_VM=1 KFD_SVM_VM_KERNEL=%q KFD_SVM_VM_MODE=%q\n' "$KERNEL" "$MODE"
  # CI=1: the serial console is a tty, and vitest would redraw its progress on it every second.
  # The helper goes through the output share: the guest's /tmp is a tmpfs, so a cache under the host's /tmp
  # would be invisible there.
  printf 'export KFD_SVM_HMM_HELPER=/tmp/kvm-out/hmm-helper KFD_SVM_VM_OUT=/tmp/kvm-out CI=1 NO_COLOR=1\n'
  printf 'mkdir -p "$HOME"\n'
  printf 'exec'; printf ' %q' "$@"; printf '\n'
} > "$WORK/root/cmd.sh"
# The guest puts a tmpfs over /tmp, which would hide a checkout that lives there (a CI clone in /tmp, say):
# /init mounts the checkout from its own share wherever the host root does not show it.
printf '%s\n' "$REPO_DIR" > "$WORK/root/repo-dir"
cat > "$WORK/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "@@ kernel-vm: init at uptime $(cut -d' ' -f1 /proc/uptime)"
fail() { echo "@@ kernel-vm: $*"; echo 126 > /out/exit-code 2>/dev/null; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 kvmout /out || fail "cannot mount the output share"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || fail "cannot mount the host root over 9p"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mkdir -p /host/dev/shm /host/tmp/kvm-out && mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -o bind /out /host/tmp/kvm-out
REPO="$(cat /repo-dir)"
if [ ! -d "/host$REPO/node_modules" ]; then
  mkdir -p "/host$REPO" && mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose repo "/host$REPO" \
    || fail "cannot mount the checkout $REPO"
fi
cat /proc/iomem > /out/iomem-root.txt
echo "@@ kernel-vm: running command at uptime $(cut -d' ' -f1 /proc/uptime)"
chroot /host /bin/sh /tmp/kvm-out/cmd.sh
rc=$?
echo "@@ kernel-vm: command exited $rc at uptime $(cut -d' ' -f1 /proc/uptime)"
dmesg > /out/dmesg.txt
echo $rc > /out/exit-code
sync
umount /host/tmp/kvm-out 2>/dev/null; umount /out 2>/dev/null
poweroff -f
INIT
chmod +x "$WORK/root/init"
cp "$WORK/root/cmd.sh" "$OUT/cmd.sh"
cp "$HELPER" "$OUT/hmm-helper"
(cd "$WORK/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.cpio.gz"

# --- kernel command line ----------------------------------------------------------------------------
# memmap=<size>%<start>-1+0xefffffff: e820 range of any type -> E820_TYPE_SOFT_RESERVED (parse_memmap_one).
APPEND="console=ttyS0 panic=-1 loglevel=4 memmap=256M%0x40000000-1+0xefffffff,256M%0x60000000-1+0xefffffff"
if [ "$MODE" = hmm ]; then
  # test_hmm makes dmirror2/3 device-coherent on these ranges; dax_hmem must not claim them first.
  APPEND="$APPEND test_hmm.spm_addr_dev0=0x40000000 test_hmm.spm_addr_dev1=0x60000000 device_hmem.disable=1"
fi

QEMU=(qemu-system-x86_64 -accel tcg -machine q35 -cpu max -smp "${QEMU_SMP:-2}" -m "${QEMU_MEM:-3G}"
  -nographic -no-reboot -nic none
  -kernel "$BZ" -initrd "$WORK/initramfs.cpio.gz" -append "$APPEND"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$OUT,mount_tag=kvmout,security_model=none"
  -virtfs "local,path=$REPO_DIR,mount_tag=repo,security_model=none,readonly=on,multidevs=remap")
printf '%q ' "${QEMU[@]}" > "$OUT/qemu-cmd.txt"
log "booting $KERNEL kernel ($MODE mode), timeout ${TIMEOUT}s, output in $OUT"
t0=$(date +%s.%N)
set +e
timeout --kill-after=15 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$OUT/console.log" 2>&1
qrc=$?
set -e
t1=$(date +%s.%N)
printf '%.1f\n' "$(echo "$t1 - $t0" | bc)" > "$OUT/wall-seconds"
log "qemu exited $qrc after $(cat "$OUT/wall-seconds") s"
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  tail -30 "$OUT/console.log" >&2
  die "guest timed out after ${TIMEOUT}s (console: $OUT/console.log)"
fi
if [ ! -s "$OUT/exit-code" ]; then
  tail -40 "$OUT/console.log" >&2
  die "guest ended without reporting an exit code (qemu rc $qrc; console: $OUT/console.log)"
fi
rc="$(cat "$OUT/exit-code")"
log "guest command exited $rc"
exit "$rc"
