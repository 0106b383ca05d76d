// kfd-svm: how a failed system call reaches JavaScript.
//
// Every refusal becomes an Error with `code` ('EINVAL'), `errno` (positive, as the kernel returned it
// negated), `syscall` ('ioctl', 'open', ...) and `request` (the KFD request name, or the path for open),
// plus `kfdSvmSyscallError: true` so src/backend/kfd can turn it into a KernelError without guessing.
// errno must be captured on the line right after the call (see SysError below) because anything in between
// (even a constructor) may overwrite it.
//
// Errno mode. The calls src/backend/kfd makes per operation (GET_VERSION, GET_PROCESS_APERTURES_NEW,
// SET_XNACK_MODE, AVAILABLE_MEMORY, SVM sync and async) take an optional trailing `true`. With it, a refused
// system call (a closed handle's EBADF included) is RETURNED as -errno, a negative Number, instead of thrown,
// and the async call resolves with it instead of rejecting. The JS layer then builds the one KernelError the
// caller sees. Throwing cost 11-16 us per refusal (a C++ throw and unwind, an Error with a captured stack and
// six property sets, then a second Error in JS); returning a Number costs what a successful call does.
// Argument errors (TypeError, RangeError) throw in both modes: they are programming errors, not answers.
// Without the flag (anything but exactly `true` there) the calls throw as before: the addon's surface for
// every other caller is unchanged.
#ifndef KFD_SVM_ERRORS_H
#define KFD_SVM_ERRORS_H

#include <napi.h>

#include <string>

namespace kfdsvm {

// The symbolic name of an errno ('EINVAL'), or 'E<n>' for one we do not list.
std::string ErrnoName(int err);

// A failed system call, as plain data: safe to build on a worker thread and carry to the JS thread.
struct SysError {
  int err = 0;               // positive errno; 0 = no error
  std::string syscall;       // 'ioctl', 'open', 'mmap', 'read', 'write', 'poll', ...
  std::string request;       // 'AMDKFD_IOC_SVM', or the path for open
  std::string hint;          // optional advice appended to the message
  explicit operator bool() const { return err != 0; }
};

// Builds the JS Error for a SysError (JS thread only).
Napi::Error MakeSysError(Napi::Env env, const SysError& e);

// Throws it (with C++ exceptions on, node-addon-api turns the throw into a JS exception).
[[noreturn]] void ThrowSys(Napi::Env env, const SysError& e);

// The EBADF error every call on a closed handle gets.
[[noreturn]] void ThrowClosed(Napi::Env env, const char* syscall, const char* request);

// Whether argument i is exactly `true` (errno mode). Only read once something was refused, so the success
// path never pays for it.
bool ErrnoMode(const Napi::CallbackInfo& info, size_t i);

// A refused ioctl: -err as a Number in errno mode (flag = the index of the call's trailing flag), else the
// thrown SysError. Nothing is built (no strings, no Error) in errno mode.
Napi::Value RefuseIoctl(const Napi::CallbackInfo& info, size_t flag, int err, const char* request);

// A closed handle's EBADF the same way (thrown with the hint "the handle is closed"; JS adds it in errno mode).
Napi::Value RefuseClosed(const Napi::CallbackInfo& info, size_t flag, const char* request);

}  // namespace kfdsvm

#endif  // KFD_SVM_ERRORS_H
