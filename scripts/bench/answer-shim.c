/*
 * LD_PRELOAD shim for the bridge benchmark on machines without /dev/kfd. It interposes ioctl(3): the real
 * syscall still runs (so the kernel's work is exactly the /dev/null rejection the other cases pay), and when
 * the request is AMDKFD_IOC_GET_VERSION and the kernel said ENOTTY, it answers as KFD would (1.17, errno
 * untouched at 0) so that the addon takes its success path — the path a real /dev/kfd exercises — instead of
 * building and throwing an error. Nothing else is changed. Compiled at bench time into bench/out/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMDKFD_IOC_GET_VERSION 0x80084b01UL

struct get_version_args {
  uint32_t major_version;
  uint32_t minor_version;
};

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  int saved = errno;
  long r = syscall(SYS_ioctl, fd, request, arg);
  if (r == -1 && errno == ENOTTY && request == AMDKFD_IOC_GET_VERSION && arg != NULL) {
    struct get_version_args *v = arg;
    v->major_version = 1;
    v->minor_version = 17;
    errno = saved;
    return 0;
  }
  return (int)r;
}
