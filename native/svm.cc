// kfd-svm: AMDKFD_IOC_SVM. The attribute array rides in the ioctl's size bits, as libhsakmt sends it
// (kfd_ioctl_svm_validate refuses a request whose size does not cover nattr attributes). GET is quick and
// synchronous; SET may migrate gigabytes (prefetch), so it runs on a worker thread and returns a Promise.
#include <cerrno>
#include <cstring>
#include <vector>

#include "args.h"
#include "device.h"
#include "errors.h"
#include "kfd_abi.h"
#include "svm.h"

namespace kfdsvm {

static const char* kSvmRequest = "AMDKFD_IOC_SVM";

// The argument block: header + nattr attributes, 8-byte aligned.
struct SvmCall {
  std::vector<uint64_t> words;
  uint32_t nattr = 0;
  kfdabi::kfd_ioctl_svm_args* args() { return reinterpret_cast<kfdabi::kfd_ioctl_svm_args*>(words.data()); }
  unsigned long request() const { return kfdabi::SvmRequest(nattr); }
};

static uint32_t PropU32(Napi::Env env, Napi::Object o, const char* key, uint32_t index) {
  Napi::Value v = o.Get(key);
  std::string where = std::string("attrs[") + std::to_string(index) + "]." + key;
  if (!v.IsNumber()) ThrowType(env, where + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    ThrowRange(env, where + " must be an integer in [0, 2^32-1]");
  }
  return static_cast<uint32_t>(d);
}

// (h, op, start, size, attrs) -> the argument block, every value checked to fit its kernel field.
static SvmCall ParseSvm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 5, "svm");
  uint32_t op = ArgU32(info, 1, "op");
  uint64_t start = ArgU64(info, 2, "start");
  uint64_t size = ArgU64(info, 3, "size");
  if (!info[4].IsArray()) ThrowType(env, "attrs must be an array of { type, value }");
  Napi::Array arr = info[4].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > kfdabi::kSvmMaxAttrs) {
    ThrowRange(env, "at most " + std::to_string(kfdabi::kSvmMaxAttrs) +
                        " attributes fit the ioctl's 14 size bits; got " + std::to_string(n));
  }
  SvmCall c;
  c.nattr = n;
  c.words.assign((sizeof(kfdabi::kfd_ioctl_svm_args) + n * sizeof(kfdabi::kfd_ioctl_svm_attribute)) / 8, 0);
  auto* a = c.args();
  a->start_addr = start;
  a->size = size;
  a->op = op;
  a->nattr = n;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsObject()) ThrowType(env, "attrs[" + std::to_string(i) + "] must be an object { type, value }");
    Napi::Object o = e.As<Napi::Object>();
    a->attrs[i].type = PropU32(env, o, "type", i);
    a->attrs[i].value = PropU32(env, o, "value", i);
  }
  return c;
}

static Napi::Array AttrsOut(Napi::Env env, SvmCall& c) {
  Napi::Array out = Napi::Array::New(env, c.nattr);
  for (uint32_t i = 0; i < c.nattr; i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", Napi::Number::New(env, c.args()->attrs[i].type));
    o.Set("value", Napi::Number::New(env, c.args()->attrs[i].value));
    out.Set(i, o);
  }
  return out;
}

// kfdSvmSync(h, op, start, size, attrs, returnErrno?: true): the attributes as the kernel left them, or
// -errno (a Number) in errno mode.
static Napi::Value SvmSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceHandle* h = DeviceHandleArg(info, 0);
  if (!h->dev) return RefuseClosed(info, 5, kSvmRequest);
  // A reference of our own: parsing reads attrs through JS (getters), which may close the device.
  std::shared_ptr<KfdDevice> dev = h->dev;
  SvmCall c = ParseSvm(info);
  int err = KfdIoctl(dev->fd(), c.request(), c.args());
  if (err) return RefuseIoctl(info, 5, err, kSvmRequest);
  return AttrsOut(env, c);
}

class SvmWorker : public Napi::AsyncWorker {
 public:
  SvmWorker(Napi::Env env, std::shared_ptr<KfdDevice> dev, SvmCall call, bool errnoMode)
      : Napi::AsyncWorker(env, "kfd-svm:svm"), deferred_(Napi::Promise::Deferred::New(env)),
        dev_(std::move(dev)), call_(std::move(call)), errno_mode_(errnoMode) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { err_ = KfdIoctl(dev_->fd(), call_.request(), call_.args()); }
  void OnOK() override {
    Napi::Env env = Env();
    dev_.reset();  // the device may close now
    try {
      if (err_ && errno_mode_) {
        deferred_.Resolve(Napi::Number::New(env, -err_));
      } else if (err_) {
        deferred_.Reject(MakeSysError(env, SysError{err_, "ioctl", kSvmRequest, ""}).Value());
      } else {
        deferred_.Resolve(AttrsOut(env, call_));
      }
    } catch (const Napi::Error&) {
      // Completed while its environment shuts down (a terminated Worker): no JS left to answer.
    }
  }
  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<KfdDevice> dev_;
  SvmCall call_;
  bool errno_mode_;
  int err_ = 0;
};

// kfdSvmAsync(h, op, start, size, attrs, returnErrno?: true): Promise of the attributes as the kernel left
// them. Errno mode: a closed handle returns -EBADF at once (where the other mode throws), and a refused
// ioctl resolves with -errno (where the other mode rejects).
static Napi::Value SvmAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceHandle* h = DeviceHandleArg(info, 0);
  if (!h->dev) return RefuseClosed(info, 5, kSvmRequest);
  std::shared_ptr<KfdDevice> dev = h->dev;  // the worker's own reference: close() may run before it ends
  SvmCall c = ParseSvm(info);
  auto* w = new SvmWorker(env, std::move(dev), std::move(c), ErrnoMode(info, 5));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void InitSvm(Napi::Env env, Napi::Object exports) {
  exports.Set("kfdSvmSync", Napi::Function::New<SvmSync>(env, "kfdSvmSync"));
  exports.Set("kfdSvmAsync", Napi::Function::New(env, SvmAsync, "kfdSvmAsync"));
}

}  // namespace kfdsvm
