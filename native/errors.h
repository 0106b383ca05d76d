// kfd-svm: how a failed system call reaches JavaScript.
//
// Every refusal becomes an Error with `code` ('EINVAL'), `errno` (positive, as the kernel returned it
// negated), `syscall` ('ioctl', 'open', ...) and `request` (the KFD request name, or the path for open),
// plus `kfdSvmSyscallError: true` so src/backend/kfd can turn it into a KernelError without guessing.
// errno must be captured on the line right after the call (see SysError below) because anything in between
// (even a constructor) may overwrite it.
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

}  // namespace kfdsvm

#endif  // KFD_SVM_ERRORS_H
