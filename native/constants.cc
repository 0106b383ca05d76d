// kfd-svm: exports `abi` (every ioctl number, struct size/offset and enum of native/kfd_abi.h), so a test
// can compare them with src/backend/abi.ts and two builds of the addon can be compared with each other.
#include <cstddef>
#include <initializer_list>

#include "args.h"
#include "constants.h"
#include "kfd_abi.h"

namespace kfdsvm {

using namespace kfdabi;

static void Put(Napi::Env env, Napi::Object o, const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); }

struct Entry {
  const char* name;
  double value;
};

// abi[group] = { name: value, ... }
static void PutGroup(Napi::Env env, Napi::Object abi, const char* group, std::initializer_list<Entry> entries) {
  Napi::Object o = Napi::Object::New(env);
  for (const Entry& e : entries) Put(env, o, e.name, e.value);
  abi.Set(group, o);
}

#define KFD_SIZE(T) Entry{#T, static_cast<double>(sizeof(T))}
#define KFD_OFF(T, F) Entry{#T "." #F, static_cast<double>(offsetof(T, F))}

// abiSvmRequest(nattr): the SVM request number for nattr attributes (size bits include the array).
static Napi::Value SvmRequestJs(const Napi::CallbackInfo& info) {
  uint32_t n = ArgU32(info, 0, "nattr");
  if (n > kSvmMaxAttrs) ThrowRange(info.Env(), "nattr above " + std::to_string(kSvmMaxAttrs));
  return Napi::Number::New(info.Env(), SvmRequest(n));
}

void InitConstants(Napi::Env env, Napi::Object exports) {
  Napi::Object abi = Napi::Object::New(env);

  PutGroup(env, abi, "headerVersion", {
      {"major", kHeaderMajor},
      {"minor", kHeaderMinor},
  });

  PutGroup(env, abi, "ioctl", {
      {"AMDKFD_IOC_GET_VERSION", IOC_GET_VERSION},
      {"AMDKFD_IOC_GET_PROCESS_APERTURES_NEW", IOC_GET_PROCESS_APERTURES_NEW},
      {"AMDKFD_IOC_ACQUIRE_VM", IOC_ACQUIRE_VM},
      {"AMDKFD_IOC_SMI_EVENTS", IOC_SMI_EVENTS},
      {"AMDKFD_IOC_SVM", IOC_SVM},
      {"AMDKFD_IOC_SET_XNACK_MODE", IOC_SET_XNACK_MODE},
      {"AMDKFD_IOC_AVAILABLE_MEMORY", IOC_AVAILABLE_MEMORY},
  });

  PutGroup(env, abi, "sizeof", {
      KFD_SIZE(kfd_ioctl_get_version_args),
      KFD_SIZE(kfd_process_device_apertures),
      KFD_SIZE(kfd_ioctl_get_process_apertures_new_args),
      KFD_SIZE(kfd_ioctl_acquire_vm_args),
      KFD_SIZE(kfd_ioctl_set_xnack_mode_args),
      KFD_SIZE(kfd_ioctl_get_available_memory_args),
      KFD_SIZE(kfd_ioctl_smi_events_args),
      KFD_SIZE(kfd_ioctl_svm_attribute),
      KFD_SIZE(kfd_ioctl_svm_args),
  });

  PutGroup(env, abi, "offsetof", {
      KFD_OFF(kfd_ioctl_get_version_args, major_version),
      KFD_OFF(kfd_ioctl_get_version_args, minor_version),
      KFD_OFF(kfd_process_device_apertures, lds_base),
      KFD_OFF(kfd_process_device_apertures, lds_limit),
      KFD_OFF(kfd_process_device_apertures, scratch_base),
      KFD_OFF(kfd_process_device_apertures, scratch_limit),
      KFD_OFF(kfd_process_device_apertures, gpuvm_base),
      KFD_OFF(kfd_process_device_apertures, gpuvm_limit),
      KFD_OFF(kfd_process_device_apertures, gpu_id),
      KFD_OFF(kfd_process_device_apertures, pad),
      KFD_OFF(kfd_ioctl_get_process_apertures_new_args, kfd_process_device_apertures_ptr),
      KFD_OFF(kfd_ioctl_get_process_apertures_new_args, num_of_nodes),
      KFD_OFF(kfd_ioctl_get_process_apertures_new_args, pad),
      KFD_OFF(kfd_ioctl_acquire_vm_args, drm_fd),
      KFD_OFF(kfd_ioctl_acquire_vm_args, gpu_id),
      KFD_OFF(kfd_ioctl_set_xnack_mode_args, xnack_enabled),
      KFD_OFF(kfd_ioctl_get_available_memory_args, available),
      KFD_OFF(kfd_ioctl_get_available_memory_args, gpu_id),
      KFD_OFF(kfd_ioctl_get_available_memory_args, pad),
      KFD_OFF(kfd_ioctl_smi_events_args, gpuid),
      KFD_OFF(kfd_ioctl_smi_events_args, anon_fd),
      KFD_OFF(kfd_ioctl_svm_attribute, type),
      KFD_OFF(kfd_ioctl_svm_attribute, value),
      KFD_OFF(kfd_ioctl_svm_args, start_addr),
      KFD_OFF(kfd_ioctl_svm_args, size),
      KFD_OFF(kfd_ioctl_svm_args, op),
      KFD_OFF(kfd_ioctl_svm_args, nattr),
      KFD_OFF(kfd_ioctl_svm_args, attrs),
  });

  // Enums, keyed as src/backend/abi.ts keys them.
  PutGroup(env, abi, "SvmOp", {
      {"SET_ATTR", SVM_OP_SET_ATTR},
      {"GET_ATTR", SVM_OP_GET_ATTR},
  });

  PutGroup(env, abi, "SvmAttrType", {
      {"PREFERRED_LOC", SVM_ATTR_PREFERRED_LOC},
      {"PREFETCH_LOC", SVM_ATTR_PREFETCH_LOC},
      {"ACCESS", SVM_ATTR_ACCESS},
      {"ACCESS_IN_PLACE", SVM_ATTR_ACCESS_IN_PLACE},
      {"NO_ACCESS", SVM_ATTR_NO_ACCESS},
      {"SET_FLAGS", SVM_ATTR_SET_FLAGS},
      {"CLR_FLAGS", SVM_ATTR_CLR_FLAGS},
      {"GRANULARITY", SVM_ATTR_GRANULARITY},
  });

  PutGroup(env, abi, "SvmFlag", {
      {"HOST_ACCESS", SVM_FLAG_HOST_ACCESS},
      {"COHERENT", SVM_FLAG_COHERENT},
      {"HIVE_LOCAL", SVM_FLAG_HIVE_LOCAL},
      {"GPU_RO", SVM_FLAG_GPU_RO},
      {"GPU_EXEC", SVM_FLAG_GPU_EXEC},
      {"GPU_READ_MOSTLY", SVM_FLAG_GPU_READ_MOSTLY},
      {"GPU_ALWAYS_MAPPED", SVM_FLAG_GPU_ALWAYS_MAPPED},
      {"EXT_COHERENT", SVM_FLAG_EXT_COHERENT},
  });

  PutGroup(env, abi, "SvmLocation", {
      {"SYSMEM", SVM_LOCATION_SYSMEM},
      {"UNDEFINED", SVM_LOCATION_UNDEFINED},
  });

  PutGroup(env, abi, "SmiEvent", {
      {"NONE", SMI_EVENT_NONE},
      {"VMFAULT", SMI_EVENT_VMFAULT},
      {"THERMAL_THROTTLE", SMI_EVENT_THERMAL_THROTTLE},
      {"GPU_PRE_RESET", SMI_EVENT_GPU_PRE_RESET},
      {"GPU_POST_RESET", SMI_EVENT_GPU_POST_RESET},
      {"MIGRATE_START", SMI_EVENT_MIGRATE_START},
      {"MIGRATE_END", SMI_EVENT_MIGRATE_END},
      {"PAGE_FAULT_START", SMI_EVENT_PAGE_FAULT_START},
      {"PAGE_FAULT_END", SMI_EVENT_PAGE_FAULT_END},
      {"QUEUE_EVICTION", SMI_EVENT_QUEUE_EVICTION},
      {"QUEUE_RESTORE", SMI_EVENT_QUEUE_RESTORE},
      {"UNMAP_FROM_GPU", SMI_EVENT_UNMAP_FROM_GPU},
      {"ALL_PROCESS", SMI_EVENT_ALL_PROCESS},
  });

  PutGroup(env, abi, "MigrateTrigger", {
      {"PREFETCH", MIGRATE_TRIGGER_PREFETCH},
      {"PAGEFAULT_GPU", MIGRATE_TRIGGER_PAGEFAULT_GPU},
      {"PAGEFAULT_CPU", MIGRATE_TRIGGER_PAGEFAULT_CPU},
      {"TTM_EVICTION", MIGRATE_TRIGGER_TTM_EVICTION},
  });

  PutGroup(env, abi, "QueueEvictionTrigger", {
      {"SVM", QUEUE_EVICTION_TRIGGER_SVM},
      {"USERPTR", QUEUE_EVICTION_TRIGGER_USERPTR},
      {"TTM", QUEUE_EVICTION_TRIGGER_TTM},
      {"SUSPEND", QUEUE_EVICTION_TRIGGER_SUSPEND},
      {"CRIU_CHECKPOINT", QUEUE_EVICTION_CRIU_CHECKPOINT},
      {"CRIU_RESTORE", QUEUE_EVICTION_CRIU_RESTORE},
  });

  PutGroup(env, abi, "UnmapTrigger", {
      {"MMU_NOTIFY", SVM_UNMAP_TRIGGER_MMU_NOTIFY},
      {"MMU_NOTIFY_MIGRATE", SVM_UNMAP_TRIGGER_MMU_NOTIFY_MIGRATE},
      {"UNMAP_FROM_CPU", SVM_UNMAP_TRIGGER_UNMAP_FROM_CPU},
  });

  Put(env, abi, "svmMaxAttrs", kSvmMaxAttrs);
  Put(env, abi, "smiEventMsgSize", kSmiEventMsgSize);

  exports.Set("abi", abi);
  exports.Set("abiSvmRequest", Napi::Function::New(env, SvmRequestJs, "abiSvmRequest"));
}

}  // namespace kfdsvm
