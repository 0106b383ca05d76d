/*
 * LD_PRELOAD shim for test/safety/attributes.fuzz.test.ts: lets the addon's AMDKFD_IOC_SVM marshalling be
 * checked end to end without a KFD. It interposes ioctl(2); the real syscall runs first, and only when it
 * answers ENOTTY (the fd is not KFD: /dev/null in the tests) for request type 'K' nr 0x20 does the shim
 * answer in its place. The answer is not a model of the kernel (the simulator is that): it proves what
 * crossed the boundary, by returning each attribute with
 *     value ^= lo32(start) ^ hi32(start) ^ lo32(size) ^ hi32(size) ^ op ^ nattr
 * so the test can recompute it from what it passed. A request whose size bits do not cover the nattr
 * attributes gets EMSGSIZE (an errno the real ioctl path never produces here), so a mis-sized request
 * cannot pass unnoticed. The struct is written out from the kernel's uapi kfd_ioctl.h, independently of
 * native/kfd_abi.h, which is what is being checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct svm_attribute { /* struct kfd_ioctl_svm_attribute */
  uint32_t type;
  uint32_t value;
};
struct svm_args { /* struct kfd_ioctl_svm_args */
  uint64_t start_addr;
  uint64_t size;
  uint32_t op;
  uint32_t nattr;
  struct svm_attribute attrs[];
};
_Static_assert(sizeof(struct svm_args) == 24, "kfd_ioctl_svm_args header is 24 bytes");

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  long r = syscall(SYS_ioctl, fd, request, arg);
  if (r == -1 && errno == ENOTTY && _IOC_TYPE(request) == 'K' && _IOC_NR(request) == 0x20 && arg != NULL &&
      _IOC_DIR(request) == (_IOC_READ | _IOC_WRITE)) {
    struct svm_args *a = arg;
    if (_IOC_SIZE(request) != sizeof *a + (uint64_t)a->nattr * sizeof a->attrs[0]) {
      errno = EMSGSIZE;
      return -1;
    }
    uint32_t mix = (uint32_t)a->start_addr ^ (uint32_t)(a->start_addr >> 32) ^ (uint32_t)a->size ^
                   (uint32_t)(a->size >> 32) ^ a->op ^ a->nattr;
    for (uint32_t i = 0; i < a->nattr; i++) a->attrs[i].value ^= mix;
    errno = 0;
    return 0;
  }
  return (int)r;
}
