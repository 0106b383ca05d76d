/*
 * hmm-helper: a test-only program for the kfd-svm kernel-VM suite (not part of the published addon).
 * It runs inside the QEMU guest as root and prints one JSON object on stdout.
 *
 *   hmm-helper hmm <dev> [npages]   drive /dev/hmm_dmirror<dev> (lib/test_hmm.c) the way
 *                                   tools/testing/selftests/mm/hmm-tests.c does: migrate an anonymous
 *                                   buffer to the device, then take HMM_DMIRROR_SNAPSHOTs around CPU
 *                                   reads and writes, and migrate back.
 *   hmm-helper kfd-raw [path]       /dev/kfd ioctls that the Backend contract cannot express: an unknown
 *                                   ioctl number, and AMDKFD_IOC_SVM whose size field omits the attributes.
 *
 * Exit status: 0 when the program could run its steps (kernel refusals are data, reported as errno),
 * 2 on usage errors, 3 when a device cannot be opened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/ioctl.h>

/* lib/test_hmm_uapi.h (Linux 6.12), copied: the header is not installed by linux-libc-dev. */
struct hmm_dmirror_cmd {
  __u64 addr;
  __u64 ptr;
  __u64 npages;
  __u64 cpages;
  __u64 faults;
};
#define HMM_DMIRROR_READ _IOWR('H', 0x00, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_WRITE _IOWR('H', 0x01, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_DEV _IOWR('H', 0x02, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_SYS _IOWR('H', 0x03, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_SNAPSHOT _IOWR('H', 0x04, struct hmm_dmirror_cmd)

/* include/uapi/linux/kfd_ioctl.h (Linux 6.12): only what kfd-raw needs. */
struct kfd_ioctl_svm_attribute {
  __u32 type;
  __u32 value;
};
struct kfd_ioctl_svm_args {
  __u64 start_addr;
  __u64 size;
  __u32 op;
  __u32 nattr;
  struct kfd_ioctl_svm_attribute attrs[];
};
#define AMDKFD_IOC_SVM _IOWR('K', 0x20, struct kfd_ioctl_svm_args)
_Static_assert(sizeof(struct hmm_dmirror_cmd) == 40, "hmm_dmirror_cmd layout");
_Static_assert(sizeof(struct kfd_ioctl_svm_args) == 24, "kfd_ioctl_svm_args layout");

static long page_size;

static void print_states(const char *name, const unsigned char *perm, unsigned long n) {
  printf(",\"%s\":[", name);
  for (unsigned long i = 0; i < n; i++) printf("%s%u", i ? "," : "", perm[i]);
  printf("]");
}

/* One dmirror ioctl; prints "name":{"ret":..,"errno":..,"cpages":..,"faults":..}. */
static int dmirror_cmd(int fd, unsigned long request, const char *name, void *addr, void *ptr,
                       unsigned long npages) {
  struct hmm_dmirror_cmd cmd = {0};
  cmd.addr = (__u64)(uintptr_t)addr;
  cmd.ptr = (__u64)(uintptr_t)ptr;
  cmd.npages = npages;
  int ret = ioctl(fd, request, &cmd);
  int err = ret ? errno : 0;
  printf(",\"%s\":{\"ret\":%d,\"errno\":%d,\"cpages\":%llu,\"faults\":%llu}", name, ret, err,
         (unsigned long long)cmd.cpages, (unsigned long long)cmd.faults);
  return ret;
}

static void snapshot(int fd, const char *name, void *addr, unsigned long npages) {
  unsigned char *perm = calloc(npages, 1);
  memset(perm, 0xee, npages); /* not a value the kernel writes: shows untouched entries */
  char cmdname[96];
  snprintf(cmdname, sizeof cmdname, "%sIoctl", name);
  dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, cmdname, addr, perm, npages);
  print_states(name, perm, npages);
  free(perm);
}

static int open_dev(int dev) {
  char path[64];
  snprintf(path, sizeof path, "/dev/hmm_dmirror%d", dev);
  return open(path, O_RDWR | O_CLOEXEC);
}

static int run_hmm(int dev, unsigned long npages) {
  int fd = open_dev(dev);
  if (fd < 0) {
    printf("{\"device\":%d,\"openErrno\":%d}\n", dev, errno);
    return 3;
  }
  /* The peer: 0<->1 (device-private pair), 2<->3 (device-coherent pair). */
  int peer = dev ^ 1;
  int pfd = open_dev(peer);
  size_t size = npages * (size_t)page_size;
  unsigned char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    printf("{\"device\":%d,\"mmapErrno\":%d}\n", dev, errno);
    return 3;
  }
  /* MIGRATE_TO_DEV copies the migrated data back through cmd.ptr for verification
   * (dmirror_migrate_to_device -> dmirror_do_read -> copy_to_user): without a buffer it answers EFAULT
   * after the pages have moved. hmm-tests.c passes buffer->mirror the same way. */
  unsigned char *mirror = malloc(size);
  if (!mirror) {
    printf("{\"device\":%d,\"mallocFailed\":true}\n", dev);
    return 3;
  }
  uint32_t *words = (uint32_t *)buf;
  size_t nwords = size / sizeof(uint32_t);
  for (size_t i = 0; i < nwords; i++) words[i] = (uint32_t)i;

  printf("{\"device\":%d,\"peer\":%d,\"npages\":%lu,\"pageSize\":%ld", dev, peer, npages, page_size);
  snapshot(fd, "beforeMigrate", buf, npages);
  memset(mirror, 0, size);
  dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, "migrateToDev", buf, mirror, npages);
  /* What the device read back from its memory after the migration must be the original data. */
  size_t devbad = 0;
  for (size_t i = 0; i < nwords; i++)
    if (((uint32_t *)mirror)[i] != (uint32_t)i) devbad++;
  printf(",\"deviceCopyMismatches\":%zu", devbad);
  snapshot(fd, "afterMigrate", buf, npages);
  if (pfd >= 0) snapshot(pfd, "peerAfterMigrate", buf, npages);

  /* CPU read of every word: device-private pages fault back (dmirror_devmem_fault -> migrate to RAM),
   * device-coherent pages are read in place through ordinary PTEs. */
  size_t bad = 0;
  volatile uint32_t *vw = words;
  for (size_t i = 0; i < nwords; i++)
    if (vw[i] != (uint32_t)i) bad++;
  printf(",\"cpuReadMismatches\":%zu", bad);
  snapshot(fd, "afterCpuRead", buf, npages);

  /* Back to the device, then a CPU write. */
  dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, "migrateToDevAgain", buf, mirror, npages);
  snapshot(fd, "beforeCpuWrite", buf, npages);
  for (size_t i = 0; i < nwords; i++) vw[i] = (uint32_t)(i ^ 0xa5a5a5a5u);
  snapshot(fd, "afterCpuWrite", buf, npages);

  /* Migrate to the device once more and explicitly back to system memory. */
  dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, "migrateToDevThird", buf, mirror, npages);
  dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, "migrateToSys", buf, mirror, npages);
  snapshot(fd, "afterMigrateToSys", buf, npages);
  bad = 0;
  for (size_t i = 0; i < nwords; i++)
    if (vw[i] != (uint32_t)(i ^ 0xa5a5a5a5u)) bad++;
  printf(",\"finalMismatches\":%zu}\n", bad);
  munmap(buf, size);
  free(mirror);
  if (pfd >= 0) close(pfd);
  close(fd);
  return 0;
}

static int run_kfd_raw(const char *path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    printf("{\"openErrno\":%d}\n", errno);
    return 3;
  }
  /* An ioctl number past AMDKFD_COMMAND_END: kfd_ioctl() answers -ENOTTY. */
  unsigned char junk[64] = {0};
  int r1 = ioctl(fd, _IOWR('K', 0x7f, unsigned char[16]), junk);
  int e1 = r1 ? errno : 0;
  /* AMDKFD_IOC_SVM with nattr=4 but the size field covering only the fixed part: the kernel checks the
   * size against struct_size(args, attrs, nattr) (kfd_ioctl_svm_validate) before the handler runs. */
  struct {
    struct kfd_ioctl_svm_args a;
    struct kfd_ioctl_svm_attribute at[4];
  } svm;
  memset(&svm, 0, sizeof svm);
  void *buf = mmap(NULL, 1 << 21, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  svm.a.start_addr = (__u64)(uintptr_t)buf;
  svm.a.size = 1 << 21;
  svm.a.op = 1; /* GET_ATTR */
  svm.a.nattr = 4;
  int r2 = ioctl(fd, AMDKFD_IOC_SVM, &svm);
  int e2 = r2 ? errno : 0;
  printf("{\"unknownIoctl\":{\"nr\":127,\"ret\":%d,\"errno\":%d},\"svmPlainSize\":{\"nattr\":4,\"ret\":%d,\"errno\":%d}}\n",
         r1, e1, r2, e2);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  page_size = sysconf(_SC_PAGESIZE);
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  if (argc >= 3 && strcmp(argv[1], "hmm") == 0) {
    int dev = atoi(argv[2]);
    unsigned long npages = argc >= 4 ? strtoul(argv[3], NULL, 0) : 16;
    if (dev < 0 || dev > 3 || npages == 0 || npages > 4096) {
      fprintf(stderr, "hmm-helper: device must be 0..3 and npages 1..4096\n");
      return 2;
    }
    return run_hmm(dev, npages);
  }
  if (argc >= 2 && strcmp(argv[1], "kfd-raw") == 0) return run_kfd_raw(argc >= 3 ? argv[2] : "/dev/kfd");
  fprintf(stderr, "usage: hmm-helper hmm <0-3> [npages] | hmm-helper kfd-raw [/dev/kfd]\n");
  return 2;
}
