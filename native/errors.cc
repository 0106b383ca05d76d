// kfd-svm: errno names and the JS error objects for failed system calls.
#include "errors.h"

#include <cerrno>

namespace kfdsvm {

std::string ErrnoName(int err) {
  // strerrorname_np would do this but needs glibc 2.32; the prebuild must load on older systems too.
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EPIPE: return "EPIPE";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ELOOP: return "ELOOP";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECANCELED: return "ECANCELED";
    default: return "E" + std::to_string(err);
  }
}

Napi::Error MakeSysError(Napi::Env env, const SysError& e) {
  std::string code = ErrnoName(e.err);
  std::string msg = e.syscall;
  if (!e.request.empty()) msg += " " + e.request;
  msg += " failed: " + code;
  if (!e.hint.empty()) msg += " (" + e.hint + ")";
  Napi::Error err = Napi::Error::New(env, msg);
  Napi::Object o = err.Value();
  o.Set("code", Napi::String::New(env, code));
  o.Set("errno", Napi::Number::New(env, e.err));
  o.Set("syscall", Napi::String::New(env, e.syscall));
  if (!e.request.empty()) o.Set("request", Napi::String::New(env, e.request));
  if (!e.hint.empty()) o.Set("hint", Napi::String::New(env, e.hint));
  o.Set("kfdSvmSyscallError", Napi::Boolean::New(env, true));
  return err;
}

void ThrowSys(Napi::Env env, const SysError& e) { throw MakeSysError(env, e); }

void ThrowClosed(Napi::Env env, const char* syscall, const char* request) {
  ThrowSys(env, SysError{EBADF, syscall, request, "the handle is closed"});
}

bool ErrnoMode(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i) return false;
  bool b = false;
  // napi_boolean_expected for anything but a boolean: not errno mode (extra arguments stay harmless).
  return napi_get_value_bool(info.Env(), info[i], &b) == napi_ok && b;
}

Napi::Value RefuseIoctl(const Napi::CallbackInfo& info, size_t flag, int err, const char* request) {
  if (ErrnoMode(info, flag)) return Napi::Number::New(info.Env(), -err);
  ThrowSys(info.Env(), SysError{err, "ioctl", request, ""});
}

Napi::Value RefuseClosed(const Napi::CallbackInfo& info, size_t flag, const char* request) {
  if (ErrnoMode(info, flag)) return Napi::Number::New(info.Env(), -EBADF);
  ThrowClosed(info.Env(), "ioctl", request);
}

}  // namespace kfdsvm
