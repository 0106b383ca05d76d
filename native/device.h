// kfd-svm: the /dev/kfd file descriptor (render node files live process-wide in device.cc).
#ifndef KFD_SVM_DEVICE_H
#define KFD_SVM_DEVICE_H

#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace kfdsvm {

// One open /dev/kfd. Shared (shared_ptr) between its JS handle and any worker still running an ioctl on it,
// so close() from JS never pulls the fd from under a running SVM call: the last owner closes it.
class KfdDevice {
 public:
  explicit KfdDevice(int fd) : fd_(fd) {}
  ~KfdDevice();
  KfdDevice(const KfdDevice&) = delete;
  KfdDevice& operator=(const KfdDevice&) = delete;

  int fd() const { return fd_; }

 private:
  int fd_;
};

// What a device handle (a type-tagged External) holds. dev is null once closed.
struct DeviceHandle {
  std::shared_ptr<KfdDevice> dev;
};

// The open device behind argument i, or a TypeError (not a device handle) / EBADF error (closed).
std::shared_ptr<KfdDevice> DeviceArg(const Napi::CallbackInfo& info, size_t i, const char* request);

// The device handle behind argument i, or a TypeError (not a device handle); h->dev is null once closed,
// which the caller reports (thrown, or returned in errno mode: see errors.h). A call that finishes on the
// JS thread uses h->dev->fd() directly: close() runs on that thread too, so the fd cannot go away mid-call
// and the shared_ptr copy (two atomic operations) of DeviceArg is not needed.
DeviceHandle* DeviceHandleArg(const Napi::CallbackInfo& info, size_t i);

// ioctl(2) that retries EINTR and EAGAIN as libhsakmt's hsakmt_ioctl does (EAGAIN a bounded number of
// times). Returns 0 or the positive errno.
int KfdIoctl(int fd, unsigned long request, void* arg);

void InitDevice(Napi::Env env, Napi::Object exports);

}  // namespace kfdsvm

#endif  // KFD_SVM_DEVICE_H
