// kfd-svm: exports `abi` (every ioctl number, struct size/offset and enum of native/kfd_abi.h), so a test
// can compare them with src/backend/abi.ts and two builds of the addon can be compared with each other.
#include <cstddef>

#include "args.h"
#include "constants.h"
#include "kfd_abi.h"

namespace kfdsvm {

using namespace kfdabi;

static void Put(Napi::Env env, Napi::Object o, const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); }

#define KFD_SIZE(o, T) Put(env, o, #T, static_cast<double>(sizeof(T)))
#define KFD_OFF(o, T, F) Put(env, o, #T "." #F, static_cast<double>(offsetof(T, F)))

// abiSvmRequest(nattr): the SVM request number for nattr attributes (size bits include the array).
static Napi::Value SvmRequestJs(const Napi::CallbackInfo& info) {
  uint32_t n = ArgU32(info, 0, "nattr");
  if (n > kSvmMaxAttrs) ThrowRange(info.Env(), "nattr above " + std::to_string(kSvmMaxAttrs));
  return Napi::Number::New(info.Env(), SvmRequest(n));
}

void InitConstants(Napi::Env env, Napi::Object exports) {
  Napi::Object abi = Napi::Object::New(env);

  Napi::Object ver = Napi::Object::New(env);
  Put(env, ver, "major", kHeaderMajor);
  Put(env, ver, "minor", kHeaderMinor);
  abi.Set("headerVersion", ver);

  Napi::Object ioc = Napi::Object::New(env);
  Put(env, ioc, "AMDKFD_IOC_GET_VERSION", IOC_GET_VERSION);
  Put(env, ioc, "AMDKFD_IOC_GET_PROCESS_APERTURES_NEW", IOC_GET_PROCESS_APERTURES_NEW);
  Put(env, ioc, "AMDKFD_IOC_ACQUIRE_VM", IOC_ACQUIRE_VM);
  Put(env, ioc, "AMDKFD_IOC_SMI_EVENTS", IOC_SMI_EVENTS);
  Put(env, ioc, "AMDKFD_IOC_SVM", IOC_SVM);
  Put(env, ioc, "AMDKFD_IOC_SET_XNACK_MODE", IOC_SET_XNACK_MODE);
  Put(env, ioc, "AMDKFD_IOC_AVAILABLE_MEMORY", IOC_AVAILABLE_MEMORY);
  abi.Set("ioctl", ioc);

  Napi::Object sz = Napi::Object::New(env);
  KFD_SIZE(sz, kfd_ioctl_get_version_args);
  KFD_SIZE(sz, kfd_process_device_apertures);
  KFD_SIZE(sz, kfd_ioctl_get_process_apertures_new_args);
  KFD_SIZE(sz, kfd_ioctl_acquire_vm_args);
  KFD_SIZE(sz, kfd_ioctl_set_xnack_mode_args);
  KFD_SIZE(sz, kfd_ioctl_get_available_memory_args);
  KFD_SIZE(sz, kfd_ioctl_smi_events_args);
  KFD_SIZE(sz, kfd_ioctl_svm_attribute);
  KFD_SIZE(sz, kfd_ioctl_svm_args);
  abi.Set("sizeof", sz);

  Napi::Object off = Napi::Object::New(env);
  KFD_OFF(off, kfd_ioctl_get_version_args, major_version);
  KFD_OFF(off, kfd_ioctl_get_version_args, minor_version);
  KFD_OFF(off, kfd_process_device_apertures, lds_base);
  KFD_OFF(off, kfd_process_device_apertures, lds_limit);
  KFD_OFF(off, kfd_process_device_apertures, scratch_base);
  KFD_OFF(off, kfd_process_device_apertures, scratch_limit);
  KFD_OFF(off, kfd_process_device_apertures, gpuvm_base);
  KFD_OFF(off, kfd_process_device_apertures, gpuvm_limit);
  KFD_OFF(off, kfd_process_device_apertures, gpu_id);
  KFD_OFF(off, kfd_process_device_apertures, pad);
  KFD_OFF(off, kfd_ioctl_get_process_apertures_new_args, kfd_process_device_apertures_ptr);
  KFD_OFF(off, kfd_ioctl_get_process_apertures_new_args, num_of_nodes);
  KFD_OFF(off, kfd_ioctl_get_process_apertures_new_args, pad);
  KFD_OFF(off, kfd_ioctl_acquire_vm_args, drm_fd);
  KFD_OFF(off, kfd_ioctl_acquire_vm_args, gpu_id);
  KFD_OFF(off, kfd_ioctl_set_xnack_mode_args, xnack_enabled);
  KFD_OFF(off, kfd_ioctl_get_available_memory_args, available);
  KFD_OFF(off, kfd_ioctl_get_available_memory_args, gpu_id);
  KFD_OFF(off, kfd_ioctl_get_available_memory_args, pad);
  KFD_OFF(off, kfd_ioctl_smi_events_args, gpuid);
  KFD_OFF(off, kfd_ioctl_smi_events_args, anon_fd);
  KFD_OFF(off, kfd_ioctl_svm_attribute, type);
  KFD_OFF(off, kfd_ioctl_svm_attribute, value);
  KFD_OFF(off, kfd_ioctl_svm_args, start_addr);
  KFD_OFF(off, kfd_ioctl_svm_args, size);
  KFD_OFF(off, kfd_ioctl_svm_args, op);
  KFD_OFF(off, kfd_ioctl_svm_args, nattr);
  KFD_OFF(off, kfd_ioctl_svm_args, attrs);
  abi.Set("offsetof", off);

  // Enums, keyed as src/backend/abi.ts keys them.
  Napi::Object op = Napi::Object::New(env);
  Put(env, op, "SET_ATTR", SVM_OP_SET_ATTR);
  Put(env, op, "GET_ATTR", SVM_OP_GET_ATTR);
  abi.Set("SvmOp", op);

  Napi::Object at = Napi::Object::New(env);
  Put(env, at, "PREFERRED_LOC", SVM_ATTR_PREFERRED_LOC);
  Put(env, at, "PREFETCH_LOC", SVM_ATTR_PREFETCH_LOC);
  Put(env, at, "ACCESS", SVM_ATTR_ACCESS);
  Put(env, at, "ACCESS_IN_PLACE", SVM_ATTR_ACCESS_IN_PLACE);
  Put(env, at, "NO_ACCESS", SVM_ATTR_NO_ACCESS);
  Put(env, at, "SET_FLAGS", SVM_ATTR_SET_FLAGS);
  Put(env, at, "CLR_FLAGS", SVM_ATTR_CLR_FLAGS);
  Put(env, at, "GRANULARITY", SVM_ATTR_GRANULARITY);
  abi.Set("SvmAttrType", at);

  Napi::Object fl = Napi::Object::New(env);
  Put(env, fl, "HOST_ACCESS", SVM_FLAG_HOST_ACCESS);
  Put(env, fl, "COHERENT", SVM_FLAG_COHERENT);
  Put(env, fl, "HIVE_LOCAL", SVM_FLAG_HIVE_LOCAL);
  Put(env, fl, "GPU_RO", SVM_FLAG_GPU_RO);
  Put(env, fl, "GPU_EXEC", SVM_FLAG_GPU_EXEC);
  Put(env, fl, "GPU_READ_MOSTLY", SVM_FLAG_GPU_READ_MOSTLY);
  Put(env, fl, "GPU_ALWAYS_MAPPED", SVM_FLAG_GPU_ALWAYS_MAPPED);
  Put(env, fl, "EXT_COHERENT", SVM_FLAG_EXT_COHERENT);
  abi.Set("SvmFlag", fl);

  Napi::Object loc = Napi::Object::New(env);
  Put(env, loc, "SYSMEM", SVM_LOCATION_SYSMEM);
  Put(env, loc, "UNDEFINED", SVM_LOCATION_UNDEFINED);
  abi.Set("SvmLocation", loc);

  Napi::Object ev = Napi::Object::New(env);
  Put(env, ev, "NONE", SMI_EVENT_NONE);
  Put(env, ev, "VMFAULT", SMI_EVENT_VMFAULT);
  Put(env, ev, "THERMAL_THROTTLE", SMI_EVENT_THERMAL_THROTTLE);
  Put(env, ev, "GPU_PRE_RESET", SMI_EVENT_GPU_PRE_RESET);
  Put(env, ev, "GPU_POST_RESET", SMI_EVENT_GPU_POST_RESET);
  Put(env, ev, "MIGRATE_START", SMI_EVENT_MIGRATE_START);
  Put(env, ev, "MIGRATE_END", SMI_EVENT_MIGRATE_END);
  Put(env, ev, "PAGE_FAULT_START", SMI_EVENT_PAGE_FAULT_START);
  Put(env, ev, "PAGE_FAULT_END", SMI_EVENT_PAGE_FAULT_END);
  Put(env, ev, "QUEUE_EVICTION", SMI_EVENT_QUEUE_EVICTION);
  Put(env, ev, "QUEUE_RESTORE", SMI_EVENT_QUEUE_RESTORE);
  Put(env, ev, "UNMAP_FROM_GPU", SMI_EVENT_UNMAP_FROM_GPU);
  Put(env, ev, "ALL_PROCESS", SMI_EVENT_ALL_PROCESS);
  abi.Set("SmiEvent", ev);

  Napi::Object mt = Napi::Object::New(env);
  Put(env, mt, "PREFETCH", MIGRATE_TRIGGER_PREFETCH);
  Put(env, mt, "PAGEFAULT_GPU", MIGRATE_TRIGGER_PAGEFAULT_GPU);
  Put(env, mt, "PAGEFAULT_CPU", MIGRATE_TRIGGER_PAGEFAULT_CPU);
  Put(env, mt, "TTM_EVICTION", MIGRATE_TRIGGER_TTM_EVICTION);
  abi.Set("MigrateTrigger", mt);

  Napi::Object qt = Napi::Object::New(env);
  Put(env, qt, "SVM", QUEUE_EVICTION_TRIGGER_SVM);
  Put(env, qt, "USERPTR", QUEUE_EVICTION_TRIGGER_USERPTR);
  Put(env, qt, "TTM", QUEUE_EVICTION_TRIGGER_TTM);
  Put(env, qt, "SUSPEND", QUEUE_EVICTION_TRIGGER_SUSPEND);
  Put(env, qt, "CRIU_CHECKPOINT", QUEUE_EVICTION_CRIU_CHECKPOINT);
  Put(env, qt, "CRIU_RESTORE", QUEUE_EVICTION_CRIU_RESTORE);
  abi.Set("QueueEvictionTrigger", qt);

  Napi::Object ut = Napi::Object::New(env);
  Put(env, ut, "MMU_NOTIFY", SVM_UNMAP_TRIGGER_MMU_NOTIFY);
  Put(env, ut, "MMU_NOTIFY_MIGRATE", SVM_UNMAP_TRIGGER_MMU_NOTIFY_MIGRATE);
  Put(env, ut, "UNMAP_FROM_CPU", SVM_UNMAP_TRIGGER_UNMAP_FROM_CPU);
  abi.Set("UnmapTrigger", ut);

  Put(env, abi, "svmMaxAttrs", kSvmMaxAttrs);
  Put(env, abi, "smiEventMsgSize", kSmiEventMsgSize);

  exports.Set("abi", abi);
  exports.Set("abiSvmRequest", Napi::Function::New(env, SvmRequestJs, "abiSvmRequest"));
}

}  // namespace kfdsvm
