// kfd-svm: open/close of /dev/kfd and its quick ioctls (GET_VERSION, GET_PROCESS_APERTURES_NEW,
// ACQUIRE_VM, SET_XNACK_MODE, AVAILABLE_MEMORY). The SVM ioctl is in svm.cc, SMI events in smi.cc.
#include "device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <vector>

#include "args.h"
#include "errors.h"
#include "kfd_abi.h"

namespace kfdsvm {

KfdDevice::~KfdDevice() {
  if (fd_ >= 0) ::close(fd_);
}

// Render node path -> fd whose DRM file a GPU VM was acquired with, for the life of the PROCESS, not of
// one device: the kernel keeps its KFD process (and each process device's DRM file) until the address
// space goes away, not until /dev/kfd is closed (kfd_process.c: kfd_create_process finds the process a
// prior open created; the mmu notifier holds a reference until exit). A later device of the same process
// must pass the same DRM file to ACQUIRE_VM, or the kernel answers EBUSY (kfd_ioctl_acquire_vm). A forked
// child has its own KFD process and must not use the parent's files, hence the pid. Shared by every
// JS thread (worker_threads each load the addon, but statics are per process): g_render_mu guards both.
static std::map<std::string, int> g_render;
static pid_t g_render_pid = 0;
static std::mutex g_render_mu;

int KfdIoctl(int fd, unsigned long request, void* arg) {
  int again = 0;
  for (;;) {
    if (::ioctl(fd, request, arg) == 0) return 0;
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && ++again < 1000) continue;
    return err;
  }
}

std::shared_ptr<KfdDevice> DeviceArg(const Napi::CallbackInfo& info, size_t i, const char* request) {
  DeviceHandle* h = ArgHandle<DeviceHandle>(info, i, kDeviceTag, "KFD device");
  if (!h->dev) ThrowClosed(info.Env(), "ioctl", request);
  return h->dev;
}

DeviceHandle* DeviceHandleArg(const Napi::CallbackInfo& info, size_t i) {
  return ArgHandle<DeviceHandle>(info, i, kDeviceTag, "KFD device");
}

static std::string OpenHint(int err) {
  if (err == ENOENT || err == ENODEV || err == ENXIO) {
    return "no KFD device here: the amdgpu driver is not loaded, or /dev/kfd was not passed into the "
           "container (--device /dev/kfd --device /dev/dri)";
  }
  if (err == EACCES || err == EPERM) {
    return "permission denied: add the user to the render (and video) groups; in a container add "
           "--group-add $(stat -c %g /dev/dri/renderD128)";
  }
  return "";
}

// kfdOpen(path: string): DeviceHandle. O_RDWR | O_CLOEXEC as libhsakmt opens it.
static Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgPath(info, 0, "path");
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    ThrowSys(env, SysError{err, "open", path, OpenHint(err)});
  }
  auto* h = new DeviceHandle{std::make_shared<KfdDevice>(fd)};
  auto ext = Napi::External<DeviceHandle>::New(env, h, [](Napi::Env, DeviceHandle* p) { delete p; });
  ext.TypeTag(&kDeviceTag);
  return ext;
}

// kfdClose(h): idempotent. Workers still running keep the fd until they finish.
static Napi::Value Close(const Napi::CallbackInfo& info) {
  DeviceHandle* h = ArgHandle<DeviceHandle>(info, 0, kDeviceTag, "KFD device");
  h->dev.reset();
  return info.Env().Undefined();
}

static Napi::Value IsOpen(const Napi::CallbackInfo& info) {
  DeviceHandle* h = ArgHandle<DeviceHandle>(info, 0, kDeviceTag, "KFD device");
  return Napi::Boolean::New(info.Env(), static_cast<bool>(h->dev));
}

// kfdGetVersion(h, out: Uint32Array, returnErrno?: true): writes [major, minor] into out. No result object:
// building one with two napi_set_named_property calls cost more than the ioctl itself; src/backend/kfd
// builds it in JS. Returns undefined (a null napi_value: no napi_get_undefined call), or -errno in errno mode.
static Napi::Value GetVersion(const Napi::CallbackInfo& info) {
  const char* req = "AMDKFD_IOC_GET_VERSION";
  DeviceHandle* h = DeviceHandleArg(info, 0);
  if (!h->dev) return RefuseClosed(info, 2, req);
  uint32_t* out = ArgU32Out(info, 1, "out", 2);
  kfdabi::kfd_ioctl_get_version_args args{};
  int err = KfdIoctl(h->dev->fd(), kfdabi::IOC_GET_VERSION, &args);
  if (err) return RefuseIoctl(info, 2, err, req);
  out[0] = args.major_version;
  out[1] = args.minor_version;
  return Napi::Value();
}

// kfdGetProcessApertures(h, returnErrno?: true). Two calls, as libhsakmt does: num_of_nodes = 0 asks for
// the count (kfd_ioctl_get_process_apertures_new), then a buffer of that many entries is filled; the kernel
// reports how many it wrote.
static Napi::Value GetProcessApertures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* req = "AMDKFD_IOC_GET_PROCESS_APERTURES_NEW";
  DeviceHandle* h = DeviceHandleArg(info, 0);
  if (!h->dev) return RefuseClosed(info, 1, req);
  int fd = h->dev->fd();
  kfdabi::kfd_ioctl_get_process_apertures_new_args args{};
  int err = KfdIoctl(fd, kfdabi::IOC_GET_PROCESS_APERTURES_NEW, &args);
  if (err) return RefuseIoctl(info, 1, err, req);
  std::vector<kfdabi::kfd_process_device_apertures> pa(args.num_of_nodes);
  uint32_t n = 0;
  if (!pa.empty()) {
    args.kfd_process_device_apertures_ptr = reinterpret_cast<uint64_t>(pa.data());
    err = KfdIoctl(fd, kfdabi::IOC_GET_PROCESS_APERTURES_NEW, &args);
    if (err) return RefuseIoctl(info, 1, err, req);
    n = args.num_of_nodes < pa.size() ? args.num_of_nodes : static_cast<uint32_t>(pa.size());
  }
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) {
    const auto& a = pa[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("gpuId", Napi::Number::New(env, a.gpu_id));
    o.Set("ldsBase", Napi::BigInt::New(env, a.lds_base));
    o.Set("ldsLimit", Napi::BigInt::New(env, a.lds_limit));
    o.Set("scratchBase", Napi::BigInt::New(env, a.scratch_base));
    o.Set("scratchLimit", Napi::BigInt::New(env, a.scratch_limit));
    o.Set("gpuvmBase", Napi::BigInt::New(env, a.gpuvm_base));
    o.Set("gpuvmLimit", Napi::BigInt::New(env, a.gpuvm_limit));
    out.Set(i, o);
  }
  return out;
}

// kfdAcquireVm(h, gpuId, renderPath): opens the render node once per process and issues ACQUIRE_VM with it.
// A repeat (by this or a later device) passes the same DRM file, which the kernel answers with 0.
static Napi::Value AcquireVm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* req = "AMDKFD_IOC_ACQUIRE_VM";
  auto dev = DeviceArg(info, 0, req);
  uint32_t gpuId = ArgU32(info, 1, "gpuId");
  std::string path = ArgPath(info, 2, "renderPath");
  // Held through open, ACQUIRE_VM and insert: two threads acquiring through one node must pass the same
  // DRM file (a second file for the same GPU is EBUSY), so the second waits for the first's entry.
  std::lock_guard<std::mutex> lock(g_render_mu);
  if (g_render_pid != ::getpid()) {
    g_render.clear();  // inherited across fork: the parent's files, not ours to pass (nor to close)
    g_render_pid = ::getpid();
  }
  auto it = g_render.find(path);
  bool opened = false;
  int rfd;
  if (it != g_render.end()) {
    rfd = it->second;
  } else {
    rfd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (rfd < 0) {
      int err = errno;
      ThrowSys(env, SysError{err, "open", path, OpenHint(err)});
    }
    opened = true;
  }
  kfdabi::kfd_ioctl_acquire_vm_args args{};
  args.drm_fd = static_cast<uint32_t>(rfd);
  args.gpu_id = gpuId;
  int err = KfdIoctl(dev->fd(), kfdabi::IOC_ACQUIRE_VM, &args);
  if (err) {
    if (opened) ::close(rfd);
    ThrowSys(env, SysError{err, "ioctl", req, ""});
  }
  if (opened) g_render[path] = rfd;
  return env.Undefined();
}

// kfdSetXnackMode(h, mode, returnErrno?: true): mode < 0 queries. Returns the kernel's answer (the mode now
// in force: 0 or 1 for a query, the mode set otherwise; never negative), or -errno in errno mode.
static Napi::Value SetXnackMode(const Napi::CallbackInfo& info) {
  const char* req = "AMDKFD_IOC_SET_XNACK_MODE";
  DeviceHandle* h = DeviceHandleArg(info, 0);
  if (!h->dev) return RefuseClosed(info, 2, req);
  kfdabi::kfd_ioctl_set_xnack_mode_args args{};
  args.xnack_enabled = ArgI32(info, 1, "mode");
  int err = KfdIoctl(h->dev->fd(), kfdabi::IOC_SET_XNACK_MODE, &args);
  if (err) return RefuseIoctl(info, 2, err, req);
  return Napi::Number::New(info.Env(), args.xnack_enabled);
}

// kfdAvailableMemory(h, gpuId, returnErrno?: true): a bigint, or -errno (a Number) in errno mode.
static Napi::Value AvailableMemory(const Napi::CallbackInfo& info) {
  const char* req = "AMDKFD_IOC_AVAILABLE_MEMORY";
  DeviceHandle* h = DeviceHandleArg(info, 0);
  if (!h->dev) return RefuseClosed(info, 2, req);
  kfdabi::kfd_ioctl_get_available_memory_args args{};
  args.gpu_id = ArgU32(info, 1, "gpuId");
  int err = KfdIoctl(h->dev->fd(), kfdabi::IOC_AVAILABLE_MEMORY, &args);
  if (err) return RefuseIoctl(info, 2, err, req);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(args.available));
}

void InitDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("kfdOpen", Napi::Function::New(env, Open, "kfdOpen"));
  exports.Set("kfdClose", Napi::Function::New(env, Close, "kfdClose"));
  exports.Set("kfdIsOpen", Napi::Function::New(env, IsOpen, "kfdIsOpen"));
  // The template form binds the callback at compile time: no per-call CallbackData lookup and indirect call.
  exports.Set("kfdGetVersion", Napi::Function::New<GetVersion>(env, "kfdGetVersion"));
  exports.Set("kfdGetProcessApertures", Napi::Function::New<GetProcessApertures>(env, "kfdGetProcessApertures"));
  exports.Set("kfdAcquireVm", Napi::Function::New(env, AcquireVm, "kfdAcquireVm"));
  exports.Set("kfdSetXnackMode", Napi::Function::New<SetXnackMode>(env, "kfdSetXnackMode"));
  exports.Set("kfdAvailableMemory", Napi::Function::New<AvailableMemory>(env, "kfdAvailableMemory"));
}

}  // namespace kfdsvm
