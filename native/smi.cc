// kfd-svm: SMI events.
//
// AMDKFD_IOC_SMI_EVENTS(gpuid) returns an anonymous fd; writing a u64 mask to it selects events
// (kfd_smi_ev_write), and read() returns whole event lines from a 1 KiB kfifo, or EAGAIN when it is empty:
// the kernel's read never sleeps (kfd_smi_ev_read), so waiting means poll() (kfd_smi_ev_poll).
//
// A read() from JS runs on its own short-lived thread, not on the libuv pool: it may wait for an event
// forever, and a few such waits (one per GPU) would starve the 4-thread pool that fs and dns share. The
// thread polls the event fd and an eventfd; close() writes the eventfd, so a pending read wakes at once
// and resolves with '' (end of stream). The result comes back through a thread-safe function, whose
// finalizer joins the thread.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "args.h"
#include "device.h"
#include "errors.h"
#include "kfd_abi.h"
#include "smi.h"

namespace kfdsvm {

// The fds. Shared by the handle and a running read, so close() never closes an fd a thread still polls:
// the last owner closes them.
struct SmiCore {
  int fd;
  int wakefd;
  std::atomic<bool> closing{false};
  std::atomic<bool> reading{false};
  SmiCore(int f, int w) : fd(f), wakefd(w) {}
  ~SmiCore() {
    ::close(fd);
    ::close(wakefd);
  }
  void Wake() {
    closing = true;
    uint64_t one = 1;
    // eventfd write of 1 cannot block (the counter is far from overflow) and cannot fail on a valid fd.
    ssize_t r = ::write(wakefd, &one, sizeof one);
    (void)r;
  }
};

struct SmiHandle {
  std::shared_ptr<SmiCore> core;  // null once closed
};

struct ReadResult {
  std::string text;
  int err = 0;
  const char* syscall = "";
};

// One read: lives until its thread-safe function is finalized, which joins the thread. Node deletes a
// thread-safe function when its environment is torn down (a worker_threads Worker terminated) even while a
// thread still holds it, so the thread must be gone by then: the finalizer wakes it if it is still polling.
struct ReadCtx {
  Napi::Promise::Deferred deferred;
  std::shared_ptr<SmiCore> core;          // dropped as soon as the result is delivered
  std::weak_ptr<SmiCore> wake;            // to wake a thread still polling at finalization
  Napi::Reference<Napi::Value> keepAlive;  // the handle stays reachable while a read is pending
  std::thread thread;
  std::atomic<bool> done{false};          // set by the thread once it no longer polls
};

static void DeliverRead(Napi::Env env, Napi::Function, ReadCtx* ctx, ReadResult* r);
using ReadTsfn = Napi::TypedThreadSafeFunction<ReadCtx, ReadResult, DeliverRead>;

static void DeliverRead(Napi::Env env, Napi::Function, ReadCtx* ctx, ReadResult* r) {
  std::unique_ptr<ReadResult> res(r);
  if (env == nullptr) return;  // environment torn down: Node only asks us to free the data
  // The thread is done with the fds: drop our share before resolving, so a closed source's fds are
  // already closed when the caller's continuation runs.
  if (ctx->core) ctx->core->reading = false;
  ctx->core.reset();
  try {
    ctx->keepAlive.Reset();
    if (res->err) {
      ctx->deferred.Reject(MakeSysError(env, SysError{res->err, res->syscall, "SMI event fd", ""}).Value());
    } else {
      ctx->deferred.Resolve(Napi::String::New(env, res->text));
    }
  } catch (const Napi::Error&) {
    // The environment is shutting down and can no longer run JS: nobody is left to tell.
  }
}

static void FinalizeRead(Napi::Env, void*, ReadCtx* ctx) {
  if (!ctx->done) {
    if (auto core = ctx->wake.lock()) core->Wake();
  }
  if (ctx->thread.joinable()) ctx->thread.join();
  delete ctx;
}

static void ReadThread(std::shared_ptr<SmiCore> core, ReadTsfn tsfn, std::atomic<bool>* done) {
  auto* r = new ReadResult();
  char buf[4096];  // more than the kernel's whole kfifo (1 KiB), so a read never splits an event line
  for (;;) {
    struct pollfd p[2] = {{core->fd, POLLIN, 0}, {core->wakefd, POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      r->err = errno;
      r->syscall = "poll";
      break;
    }
    if (p[1].revents || core->closing) break;  // closed: end of stream ('')
    if (p[0].revents) {
      ssize_t k = ::read(core->fd, buf, sizeof buf);
      if (k > 0) {
        r->text.assign(buf, static_cast<size_t>(k));
        break;
      }
      if (k == 0) break;  // end of file
      int err = errno;
      // EAGAIN: the fifo emptied between poll and read. Keep waiting, unless poll reported only a
      // hang-up or error, which no amount of waiting will turn into data.
      if (err == EINTR) continue;
      if (err == EAGAIN && (p[0].revents & POLLIN)) continue;
      if (err == EAGAIN) break;
      r->err = err;
      r->syscall = "read";
      break;
    }
  }
  core.reset();
  *done = true;
  if (tsfn.BlockingCall(r) != napi_ok) delete r;  // napi_closing: the environment is going away
  tsfn.Release();
}

static SmiHandle* SmiArg(const Napi::CallbackInfo& info, size_t i) {
  return ArgHandle<SmiHandle>(info, i, kSmiTag, "SMI event source");
}

// Wraps an event fd we own (CLOEXEC and non-blocking set here) in a handle.
static Napi::Value MakeSource(Napi::Env env, int fd) {
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    ThrowSys(env, SysError{err, "eventfd", "", ""});
  }
  auto* h = new SmiHandle{std::make_shared<SmiCore>(fd, wake)};
  auto ext = Napi::External<SmiHandle>::New(env, h, [](Napi::Env, SmiHandle* s) {
    if (s->core) s->core->Wake();
    delete s;
  });
  ext.TypeTag(&kSmiTag);
  return ext;
}

// The event fd from AMDKFD_IOC_SMI_EVENTS is ours alone: anon_inode_getfd(..., O_RDWR) in
// kfd_smi_event_open sets no O_CLOEXEC, and a child we spawn must not inherit it. O_NONBLOCK does not
// matter to KFD's fd (kfd_smi_ev_read never sleeps) but keeps the reader from blocking on a stand-in.
static void Prepare(int fd) {
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int WriteMask(int fd, uint64_t mask) {
  ssize_t n = ::write(fd, &mask, sizeof mask);  // native endianness: the kernel copies a uint64_t
  if (n < 0) return errno;
  if (n != static_cast<ssize_t>(sizeof mask)) return EIO;
  return 0;
}

// kfdSmiOpen(h, gpuId, mask: bigint): SmiHandle.
static Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* req = "AMDKFD_IOC_SMI_EVENTS";
  auto dev = DeviceArg(info, 0, req);
  uint32_t gpuId = ArgU32(info, 1, "gpuId");
  uint64_t mask = ArgU64(info, 2, "mask");
  kfdabi::kfd_ioctl_smi_events_args args{};
  args.gpuid = gpuId;
  int err = KfdIoctl(dev->fd(), kfdabi::IOC_SMI_EVENTS, &args);
  if (err) ThrowSys(env, SysError{err, "ioctl", req, ""});
  int fd = static_cast<int>(args.anon_fd);
  Prepare(fd);
  err = WriteMask(fd, mask);
  if (err) {
    ::close(fd);
    ThrowSys(env, SysError{err, "write", "SMI event mask", ""});
  }
  return MakeSource(env, fd);
}

// smiAdopt(fd: number): SmiHandle over our own fd for what the caller's fd refers to (an SMI fd obtained
// elsewhere, or a FIFO in tests). The caller keeps its fd, and its flags: a dup would share the caller's
// open file description, so setting O_NONBLOCK on the dup would set it on the caller's fd too (stdin, say).
// So the file is opened again through /proc/self/fd/N, with the caller's access mode, as a description of
// our own that may be non-blocking. Where that cannot be done (an SMI fd is an anonymous inode, whose
// open is no_open: ENXIO; a socket; no /proc) the fd is dup'ed and its flags are left alone: KFD's read
// never blocks (kfd_smi_ev_read answers EAGAIN), and the reader only reads after poll() reports data.
// No mask is written.
static Napi::Value Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t src = ArgU32(info, 0, "fd");
  if (src > 0x7fffffff) ThrowRange(env, "fd out of range");
  int flags = ::fcntl(static_cast<int>(src), F_GETFL);
  if (flags < 0) ThrowSys(env, SysError{errno, "fcntl", "F_GETFL", ""});
  std::string self = "/proc/self/fd/" + std::to_string(src);
  int fd = ::open(self.c_str(), (flags & O_ACCMODE) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) fd = ::fcntl(static_cast<int>(src), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) ThrowSys(env, SysError{errno, "fcntl", "F_DUPFD_CLOEXEC", ""});
  return MakeSource(env, fd);
}

// smiRead(s): Promise<string>. '' once closed. One read at a time: a second concurrent read rejects EBUSY.
static Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SmiHandle* h = SmiArg(info, 0);
  auto deferred = Napi::Promise::Deferred::New(env);
  if (!h->core) {
    deferred.Resolve(Napi::String::New(env, ""));
    return deferred.Promise();
  }
  if (h->core->reading.exchange(true)) {
    deferred.Reject(
        MakeSysError(env, SysError{EBUSY, "read", "SMI event fd", "another read is pending"}).Value());
    return deferred.Promise();
  }
  auto* ctx = new ReadCtx{deferred, h->core, h->core, Napi::Reference<Napi::Value>::New(info[0], 1), {}, {}};
  ReadTsfn tsfn;
  try {
    // Unlimited queue (0): the thread's one call never blocks. Finalized on the JS thread.
    tsfn = ReadTsfn::New(env, "kfd-svm:smi-read", 0, 1, ctx, FinalizeRead);
  } catch (...) {
    h->core->reading = false;
    delete ctx;
    throw;
  }
  try {
    // Assigned before we return to the event loop, so always before FinalizeRead can run.
    ctx->thread = std::thread(ReadThread, h->core, tsfn, &ctx->done);
  } catch (const std::system_error& e) {
    h->core->reading = false;
    ctx->done = true;
    tsfn.Release();  // FinalizeRead deletes ctx
    ThrowSys(env, SysError{e.code().value() ? e.code().value() : EAGAIN, "pthread_create", "", ""});
  }
  return deferred.Promise();
}

// smiSetMask(s, mask: bigint): writes the u64 mask (the new mask replaces the old one).
static Napi::Value SetMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SmiHandle* h = SmiArg(info, 0);
  uint64_t mask = ArgU64(info, 1, "mask");
  if (!h->core) ThrowClosed(env, "write", "SMI event mask");
  int err = WriteMask(h->core->fd, mask);
  if (err) ThrowSys(env, SysError{err, "write", "SMI event mask", ""});
  return env.Undefined();
}

// smiClose(s): idempotent; a pending read resolves with ''.
static Napi::Value Close(const Napi::CallbackInfo& info) {
  SmiHandle* h = SmiArg(info, 0);
  if (h->core) {
    h->core->Wake();
    h->core.reset();
  }
  return info.Env().Undefined();
}

void InitSmi(Napi::Env env, Napi::Object exports) {
  exports.Set("kfdSmiOpen", Napi::Function::New(env, Open, "kfdSmiOpen"));
  exports.Set("smiAdopt", Napi::Function::New(env, Adopt, "smiAdopt"));
  exports.Set("smiRead", Napi::Function::New(env, Read, "smiRead"));
  exports.Set("smiSetMask", Napi::Function::New(env, SetMask, "smiSetMask"));
  exports.Set("smiClose", Napi::Function::New(env, Close, "smiClose"));
}

}  // namespace kfdsvm
