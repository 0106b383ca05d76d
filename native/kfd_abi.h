// kfd-svm: our own copy of the part of the amdgpu KFD ABI that the addon uses.
//
// Numbers, structs and enums follow include/uapi/linux/kfd_ioctl.h of Linux 6.12 (KFD ioctl interface
// 1.17). We do not include <linux/kfd_ioctl.h>: distributions ship older copies (Debian 12: 6.1, 1.11) and
// it drags in <drm/drm.h>, which lives in libdrm-dev. Everything is in namespace kfdabi so this header can
// sit beside the system one; test/native/abi-header.test.ts compiles both together and compares every
// number, size and offset they share.
#ifndef KFD_SVM_KFD_ABI_H
#define KFD_SVM_KFD_ABI_H

#include <linux/ioctl.h>  // _IOC and _IOC_SIZESHIFT: the platform's ioctl encoding
#include <cstddef>
#include <cstdint>

namespace kfdabi {

// The interface version this header describes (kfd_ioctl.h KFD_IOCTL_{MAJOR,MINOR}_VERSION).
constexpr uint32_t kHeaderMajor = 1;
constexpr uint32_t kHeaderMinor = 17;

// ---- structs -------------------------------------------------------------------------------------

struct kfd_ioctl_get_version_args {
  uint32_t major_version;  // from KFD
  uint32_t minor_version;  // from KFD
};

struct kfd_process_device_apertures {
  uint64_t lds_base;
  uint64_t lds_limit;
  uint64_t scratch_base;
  uint64_t scratch_limit;
  uint64_t gpuvm_base;
  uint64_t gpuvm_limit;
  uint32_t gpu_id;
  uint32_t pad;
};

struct kfd_ioctl_get_process_apertures_new_args {
  uint64_t kfd_process_device_apertures_ptr;  // user buffer of num_of_nodes entries
  uint32_t num_of_nodes;  // in: entries in the buffer (0 = ask for the count); out: entries filled
  uint32_t pad;
};

struct kfd_ioctl_acquire_vm_args {
  uint32_t drm_fd;  // to KFD: an open render node of that GPU
  uint32_t gpu_id;  // to KFD
};

struct kfd_ioctl_set_xnack_mode_args {
  int32_t xnack_enabled;  // in: <0 query, 0 off, >0 on; out: the current mode
};

struct kfd_ioctl_get_available_memory_args {
  uint64_t available;  // from KFD
  uint32_t gpu_id;     // to KFD
  uint32_t pad;
};

struct kfd_ioctl_smi_events_args {
  uint32_t gpuid;    // to KFD
  uint32_t anon_fd;  // from KFD
};

struct kfd_ioctl_svm_attribute {
  uint32_t type;
  uint32_t value;
};

struct kfd_ioctl_svm_args {
  uint64_t start_addr;
  uint64_t size;
  uint32_t op;
  uint32_t nattr;
  // Variable length array of attributes (a flexible array member, as in the kernel header; a GNU
  // extension in C++ that g++ and clang accept).
  kfd_ioctl_svm_attribute attrs[];
};

// ---- ioctl numbers -------------------------------------------------------------------------------

constexpr uint32_t kIoctlBase = 'K';  // AMDKFD_IOCTL_BASE

constexpr uint32_t IOC_GET_VERSION = _IOC(_IOC_READ, kIoctlBase, 0x01, sizeof(kfd_ioctl_get_version_args));
constexpr uint32_t IOC_GET_PROCESS_APERTURES_NEW =
    _IOC(_IOC_READ | _IOC_WRITE, kIoctlBase, 0x14, sizeof(kfd_ioctl_get_process_apertures_new_args));
constexpr uint32_t IOC_ACQUIRE_VM = _IOC(_IOC_WRITE, kIoctlBase, 0x15, sizeof(kfd_ioctl_acquire_vm_args));
constexpr uint32_t IOC_SMI_EVENTS =
    _IOC(_IOC_READ | _IOC_WRITE, kIoctlBase, 0x1F, sizeof(kfd_ioctl_smi_events_args));
constexpr uint32_t IOC_SVM = _IOC(_IOC_READ | _IOC_WRITE, kIoctlBase, 0x20, sizeof(kfd_ioctl_svm_args));
constexpr uint32_t IOC_SET_XNACK_MODE =
    _IOC(_IOC_READ | _IOC_WRITE, kIoctlBase, 0x21, sizeof(kfd_ioctl_set_xnack_mode_args));
constexpr uint32_t IOC_AVAILABLE_MEMORY =
    _IOC(_IOC_READ | _IOC_WRITE, kIoctlBase, 0x23, sizeof(kfd_ioctl_get_available_memory_args));

// The size field of an ioctl number is _IOC_SIZEBITS (14) wide. The SVM request carries its attribute
// array in that size (kfd_ioctl_svm_validate: usize >= struct_size(args, attrs, nattr)), so at most this
// many attributes fit in one call; more would spill into the direction bits.
constexpr uint32_t kIocSizeMax = (1u << _IOC_SIZEBITS) - 1;
constexpr uint32_t kSvmMaxAttrs =
    (kIocSizeMax - sizeof(kfd_ioctl_svm_args)) / sizeof(kfd_ioctl_svm_attribute);

// The request for an SVM call with nattr attributes, exactly as libhsakmt builds it:
// AMDKFD_IOC_SVM + ((nattr * sizeof(struct kfd_ioctl_svm_attribute)) << _IOC_SIZESHIFT).
constexpr uint32_t SvmRequest(uint32_t nattr) {
  return IOC_SVM + ((nattr * static_cast<uint32_t>(sizeof(kfd_ioctl_svm_attribute))) << _IOC_SIZESHIFT);
}

// ---- enums and flags -----------------------------------------------------------------------------

enum SvmOp : uint32_t { SVM_OP_SET_ATTR = 0, SVM_OP_GET_ATTR = 1 };

enum SvmLocation : uint32_t { SVM_LOCATION_SYSMEM = 0, SVM_LOCATION_UNDEFINED = 0xffffffffu };

enum SvmAttrType : uint32_t {
  SVM_ATTR_PREFERRED_LOC = 0,
  SVM_ATTR_PREFETCH_LOC = 1,
  SVM_ATTR_ACCESS = 2,
  SVM_ATTR_ACCESS_IN_PLACE = 3,
  SVM_ATTR_NO_ACCESS = 4,
  SVM_ATTR_SET_FLAGS = 5,
  SVM_ATTR_CLR_FLAGS = 6,
  SVM_ATTR_GRANULARITY = 7,
};

constexpr uint32_t SVM_FLAG_HOST_ACCESS = 0x00000001;
constexpr uint32_t SVM_FLAG_COHERENT = 0x00000002;
constexpr uint32_t SVM_FLAG_HIVE_LOCAL = 0x00000004;
constexpr uint32_t SVM_FLAG_GPU_RO = 0x00000008;
constexpr uint32_t SVM_FLAG_GPU_EXEC = 0x00000010;
constexpr uint32_t SVM_FLAG_GPU_READ_MOSTLY = 0x00000020;
constexpr uint32_t SVM_FLAG_GPU_ALWAYS_MAPPED = 0x00000040;
// Added after 6.1 (absent from Debian 12's header); 6.12's svm_range_get_pte_flags reads it.
constexpr uint32_t SVM_FLAG_EXT_COHERENT = 0x00000080;

enum SmiEvent : uint32_t {
  SMI_EVENT_NONE = 0,
  SMI_EVENT_VMFAULT = 1,
  SMI_EVENT_THERMAL_THROTTLE = 2,
  SMI_EVENT_GPU_PRE_RESET = 3,
  SMI_EVENT_GPU_POST_RESET = 4,
  SMI_EVENT_MIGRATE_START = 5,
  SMI_EVENT_MIGRATE_END = 6,
  SMI_EVENT_PAGE_FAULT_START = 7,
  SMI_EVENT_PAGE_FAULT_END = 8,
  SMI_EVENT_QUEUE_EVICTION = 9,
  SMI_EVENT_QUEUE_RESTORE = 10,
  SMI_EVENT_UNMAP_FROM_GPU = 11,
  SMI_EVENT_ALL_PROCESS = 64,
};
constexpr uint64_t SmiEventMask(uint32_t event) { return 1ull << (event - 1); }  // KFD_SMI_EVENT_MASK_FROM_INDEX
constexpr uint32_t kSmiEventMsgSize = 96;  // KFD_SMI_EVENT_MSG_SIZE

enum MigrateTrigger : uint32_t {
  MIGRATE_TRIGGER_PREFETCH = 0,
  MIGRATE_TRIGGER_PAGEFAULT_GPU = 1,
  MIGRATE_TRIGGER_PAGEFAULT_CPU = 2,
  MIGRATE_TRIGGER_TTM_EVICTION = 3,
};
enum QueueEvictionTrigger : uint32_t {
  QUEUE_EVICTION_TRIGGER_SVM = 0,
  QUEUE_EVICTION_TRIGGER_USERPTR = 1,
  QUEUE_EVICTION_TRIGGER_TTM = 2,
  QUEUE_EVICTION_TRIGGER_SUSPEND = 3,
  QUEUE_EVICTION_CRIU_CHECKPOINT = 4,
  QUEUE_EVICTION_CRIU_RESTORE = 5,
};
enum SvmUnmapTrigger : uint32_t {
  SVM_UNMAP_TRIGGER_MMU_NOTIFY = 0,
  SVM_UNMAP_TRIGGER_MMU_NOTIFY_MIGRATE = 1,
  SVM_UNMAP_TRIGGER_UNMAP_FROM_CPU = 2,
};

// ---- layout checks -------------------------------------------------------------------------------
// Sizes and offsets are the kernel's on every 64-bit Linux ABI (all fields are naturally aligned).

static_assert(sizeof(kfd_ioctl_get_version_args) == 8, "get_version_args size");
static_assert(offsetof(kfd_ioctl_get_version_args, major_version) == 0, "major_version offset");
static_assert(offsetof(kfd_ioctl_get_version_args, minor_version) == 4, "minor_version offset");

static_assert(sizeof(kfd_process_device_apertures) == 56, "process_device_apertures size");
static_assert(offsetof(kfd_process_device_apertures, lds_base) == 0, "lds_base offset");
static_assert(offsetof(kfd_process_device_apertures, lds_limit) == 8, "lds_limit offset");
static_assert(offsetof(kfd_process_device_apertures, scratch_base) == 16, "scratch_base offset");
static_assert(offsetof(kfd_process_device_apertures, scratch_limit) == 24, "scratch_limit offset");
static_assert(offsetof(kfd_process_device_apertures, gpuvm_base) == 32, "gpuvm_base offset");
static_assert(offsetof(kfd_process_device_apertures, gpuvm_limit) == 40, "gpuvm_limit offset");
static_assert(offsetof(kfd_process_device_apertures, gpu_id) == 48, "gpu_id offset");
static_assert(offsetof(kfd_process_device_apertures, pad) == 52, "pad offset");

static_assert(sizeof(kfd_ioctl_get_process_apertures_new_args) == 16, "apertures_new_args size");
static_assert(offsetof(kfd_ioctl_get_process_apertures_new_args, kfd_process_device_apertures_ptr) == 0, "ptr");
static_assert(offsetof(kfd_ioctl_get_process_apertures_new_args, num_of_nodes) == 8, "num_of_nodes");
static_assert(offsetof(kfd_ioctl_get_process_apertures_new_args, pad) == 12, "pad");

static_assert(sizeof(kfd_ioctl_acquire_vm_args) == 8, "acquire_vm_args size");
static_assert(offsetof(kfd_ioctl_acquire_vm_args, drm_fd) == 0, "drm_fd offset");
static_assert(offsetof(kfd_ioctl_acquire_vm_args, gpu_id) == 4, "gpu_id offset");

static_assert(sizeof(kfd_ioctl_set_xnack_mode_args) == 4, "set_xnack_mode_args size");
static_assert(offsetof(kfd_ioctl_set_xnack_mode_args, xnack_enabled) == 0, "xnack_enabled offset");

static_assert(sizeof(kfd_ioctl_get_available_memory_args) == 16, "available_memory_args size");
static_assert(offsetof(kfd_ioctl_get_available_memory_args, available) == 0, "available offset");
static_assert(offsetof(kfd_ioctl_get_available_memory_args, gpu_id) == 8, "gpu_id offset");
static_assert(offsetof(kfd_ioctl_get_available_memory_args, pad) == 12, "pad offset");

static_assert(sizeof(kfd_ioctl_smi_events_args) == 8, "smi_events_args size");
static_assert(offsetof(kfd_ioctl_smi_events_args, gpuid) == 0, "gpuid offset");
static_assert(offsetof(kfd_ioctl_smi_events_args, anon_fd) == 4, "anon_fd offset");

static_assert(sizeof(kfd_ioctl_svm_attribute) == 8, "svm_attribute size");
static_assert(offsetof(kfd_ioctl_svm_attribute, type) == 0, "type offset");
static_assert(offsetof(kfd_ioctl_svm_attribute, value) == 4, "value offset");

static_assert(sizeof(kfd_ioctl_svm_args) == 24, "svm_args size (without the attribute array)");
static_assert(offsetof(kfd_ioctl_svm_args, start_addr) == 0, "start_addr offset");
static_assert(offsetof(kfd_ioctl_svm_args, size) == 8, "size offset");
static_assert(offsetof(kfd_ioctl_svm_args, op) == 16, "op offset");
static_assert(offsetof(kfd_ioctl_svm_args, nattr) == 20, "nattr offset");
static_assert(offsetof(kfd_ioctl_svm_args, attrs) == 24, "attrs offset");

static_assert(kSvmMaxAttrs == 2044, "14 size bits hold 24 + 2044 * 8 bytes");
static_assert(SvmRequest(0) == IOC_SVM, "no attributes: the plain request");

#if defined(__x86_64__) || defined(__aarch64__)
// asm-generic ioctl encoding (dir:2 size:14 type:8 nr:8): the literal numbers a 6.12 kernel expects.
static_assert(IOC_GET_VERSION == 0x80084b01u, "AMDKFD_IOC_GET_VERSION");
static_assert(IOC_GET_PROCESS_APERTURES_NEW == 0xc0104b14u, "AMDKFD_IOC_GET_PROCESS_APERTURES_NEW");
static_assert(IOC_ACQUIRE_VM == 0x40084b15u, "AMDKFD_IOC_ACQUIRE_VM");
static_assert(IOC_SMI_EVENTS == 0xc0084b1fu, "AMDKFD_IOC_SMI_EVENTS");
static_assert(IOC_SVM == 0xc0184b20u, "AMDKFD_IOC_SVM");
static_assert(IOC_SET_XNACK_MODE == 0xc0044b21u, "AMDKFD_IOC_SET_XNACK_MODE");
static_assert(IOC_AVAILABLE_MEMORY == 0xc0104b23u, "AMDKFD_IOC_AVAILABLE_MEMORY");
static_assert(SvmRequest(5) == 0xc0404b20u, "SVM with 5 attributes: size 24 + 40 = 64");
#endif

}  // namespace kfdabi

#endif  // KFD_SVM_KFD_ABI_H
