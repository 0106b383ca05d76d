/*
 * LD_PRELOAD shim for the safety tests: a stand-in that answers the KFD ioctls the addon issues, so its
 * SUCCESS paths (the ones only a real /dev/kfd reaches) run here too: under ASan, in the leak loops and
 * in the misuse matrix. It interposes ioctl(2); the real syscall runs first, and only when it answers
 * ENOTTY (the fd is not KFD: /dev/null in the tests) for a request of type 'K' does the shim answer in its
 * place. It is not a model of the kernel (the simulator is that); it answers plausibly and checkably:
 *
 *   GET_VERSION                1.17
 *   GET_PROCESS_APERTURES_NEW  FAKE_KFD_GPUS (default 4) GPUs with gpu_id 0x1001.., two-call protocol
 *                              as kfd_ioctl_get_process_apertures_new (0 asks for the count; otherwise
 *                              fills at most num_of_nodes and reports how many it filled)
 *   ACQUIRE_VM                 0 for a known gpu_id and an open drm_fd; EINVAL otherwise (as
 *                              kfd_ioctl_acquire_vm for an unknown GPU or a bad fd)
 *   SMI_EVENTS                 a new eventfd as anon_fd (not CLOEXEC, like anon_inode_getfd); writing the
 *                              u64 mask adds to its counter, so mask 2^64-1 is refused (EINVAL) and any
 *                              non-zero mask makes it readable at once; EINVAL for an unknown gpu_id
 *   SET_XNACK_MODE             < 0 queries, else sets (per process)
 *   AVAILABLE_MEMORY           16 GiB for a known gpu_id, EINVAL otherwise
 *   SVM                        returns each attribute with
 *                                value ^= lo32(start) ^ hi32(start) ^ lo32(size) ^ hi32(size) ^ op ^ nattr
 *                              so a test can recompute what crossed the boundary; a request whose size
 *                              bits do not cover nattr attributes gets EMSGSIZE (never produced otherwise)
 *
 * The structs are written out from the kernel's uapi kfd_ioctl.h, independently of native/kfd_abi.h,
 * which is among what is being checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct get_version_args { uint32_t major_version, minor_version; };
struct process_device_apertures {
  uint64_t lds_base, lds_limit, scratch_base, scratch_limit, gpuvm_base, gpuvm_limit;
  uint32_t gpu_id, pad;
};
struct get_process_apertures_new_args { uint64_t kfd_process_device_apertures_ptr; uint32_t num_of_nodes, pad; };
struct acquire_vm_args { uint32_t drm_fd, gpu_id; };
struct smi_events_args { uint32_t gpuid, anon_fd; };
struct set_xnack_mode_args { int32_t xnack_enabled; };
struct get_available_memory_args { uint64_t available; uint32_t gpu_id, pad; };
struct svm_attribute { uint32_t type, value; };
struct svm_args { uint64_t start_addr, size; uint32_t op, nattr; struct svm_attribute attrs[]; };

_Static_assert(sizeof(struct process_device_apertures) == 56, "uapi size");
_Static_assert(sizeof(struct get_process_apertures_new_args) == 16, "uapi size");
_Static_assert(sizeof(struct get_available_memory_args) == 16, "uapi size");
_Static_assert(sizeof(struct svm_args) == 24, "uapi size");

static int xnack_mode;

static uint32_t ngpus(void) {
  const char *s = getenv("FAKE_KFD_GPUS");
  long n = s ? strtol(s, NULL, 10) : 4;
  return n < 0 ? 0 : n > 64 ? 64 : (uint32_t)n;
}
static int known_gpu(uint32_t id) { return id >= 0x1001 && id < 0x1001 + ngpus(); }

static int fail(int err) {
  errno = err;
  return -1;
}

/* Returns the answer, or -2 to leave the real ioctl's ENOTTY in place. */
static int answer(unsigned long request, void *arg) {
  if (_IOC_TYPE(request) != 'K' || arg == NULL) return -2;
  switch (_IOC_NR(request)) {
    case 0x01: {
      struct get_version_args *a = arg;
      a->major_version = 1;
      a->minor_version = 17;
      return 0;
    }
    case 0x14: {
      struct get_process_apertures_new_args *a = arg;
      uint32_t n = ngpus();
      if (a->num_of_nodes == 0) {
        a->num_of_nodes = n;
        return 0;
      }
      struct process_device_apertures *pa = (void *)(uintptr_t)a->kfd_process_device_apertures_ptr;
      uint32_t k = a->num_of_nodes < n ? a->num_of_nodes : n;
      for (uint32_t i = 0; i < k; i++) {
        uint64_t base = (uint64_t)(i + 1) << 48;
        pa[i] = (struct process_device_apertures){base, base + 0xffffffffull, base + (1ull << 32),
                                                  base + (2ull << 32) - 1, 0x1000000ull, (1ull << 47) - 1,
                                                  0x1001 + i, 0};
      }
      a->num_of_nodes = k;
      return 0;
    }
    case 0x15: {
      struct acquire_vm_args *a = arg;
      if (!known_gpu(a->gpu_id) || fcntl((int)a->drm_fd, F_GETFD) < 0) return fail(EINVAL);
      return 0;
    }
    case 0x1f: {
      struct smi_events_args *a = arg;
      if (!known_gpu(a->gpuid)) return fail(EINVAL);
      int fd = eventfd(0, 0);
      if (fd < 0) return -1;
      a->anon_fd = (uint32_t)fd;
      return 0;
    }
    case 0x20: {
      struct svm_args *a = arg;
      if (_IOC_DIR(request) != (_IOC_READ | _IOC_WRITE) ||
          _IOC_SIZE(request) != sizeof *a + (uint64_t)a->nattr * sizeof a->attrs[0]) {
        return fail(EMSGSIZE);
      }
      uint32_t mix = (uint32_t)a->start_addr ^ (uint32_t)(a->start_addr >> 32) ^ (uint32_t)a->size ^
                     (uint32_t)(a->size >> 32) ^ a->op ^ a->nattr;
      for (uint32_t i = 0; i < a->nattr; i++) a->attrs[i].value ^= mix;
      return 0;
    }
    case 0x21: {
      struct set_xnack_mode_args *a = arg;
      if (a->xnack_enabled < 0) a->xnack_enabled = xnack_mode;
      else xnack_mode = a->xnack_enabled != 0;
      return 0;
    }
    case 0x23: {
      struct get_available_memory_args *a = arg;
      if (!known_gpu(a->gpu_id)) return fail(EINVAL);
      a->available = 16ull << 30;
      return 0;
    }
    default:
      return -2;
  }
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  long r = syscall(SYS_ioctl, fd, request, arg);
  if (r == -1 && errno == ENOTTY) {
    int a = answer(request, arg);
    if (a != -2) {
      if (a == 0) errno = 0;
      return a;
    }
    errno = ENOTTY;
  }
  return (int)r;
}
