// kfd-svm: SVM memory. mmap(MAP_PRIVATE | MAP_ANONYMOUS) gives page-aligned memory the kernel can register
// as an SVM range; JS sees it as an external ArrayBuffer over the same pages (zero copy: on a coherent link
// the CPU reads migrated VRAM in place through that view).
//
// Lifetime: the pages belong to a MemBlock shared by the mapping handle and the ArrayBuffer's finalizer, so
// they stay mapped while either is reachable, and are unmapped exactly once: by free(), or when the last of
// the two is collected. free() detaches the ArrayBuffer first, so no view can reach unmapped memory.
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>

#include "args.h"
#include "errors.h"
#include "memory.h"

namespace kfdsvm {

constexpr uint64_t k2MiB = 2ull << 20;

struct MemBlock {
  void* base;
  size_t len;
  std::atomic<bool> unmapped{false};
  MemBlock(void* b, size_t l) : base(b), len(l) {}
  ~MemBlock() { Unmap(); }
  void Unmap() {
    if (!unmapped.exchange(true)) ::munmap(base, len);
  }
};

// What a mapping handle (type-tagged External) holds.
struct MappingHandle {
  std::shared_ptr<MemBlock> block;
  Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: detach it on free() if it is still alive
  bool freed = false;
};

static uint64_t PageSize() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

// mmap that returns page-aligned (or 2 MiB-aligned) memory of len bytes, or sets err.
static void* MapAnon(size_t len, bool align2M, int* err) {
  const int prot = PROT_READ | PROT_WRITE;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
  if (!align2M || len == 0) {
    void* p = ::mmap(nullptr, len, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
      *err = errno;
      return nullptr;
    }
    return p;
  }
  // Over-map by 2 MiB less a page, then trim the head and tail to leave an aligned run of len bytes.
  size_t over = len + k2MiB - PageSize();
  void* p = ::mmap(nullptr, over, prot, flags, -1, 0);
  if (p == MAP_FAILED) {
    *err = errno;
    return nullptr;
  }
  uintptr_t start = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (start + k2MiB - 1) & ~(k2MiB - 1);
  size_t head = aligned - start;
  size_t tail = over - head - len;
  if (head) ::munmap(p, head);
  if (tail) ::munmap(reinterpret_cast<void*>(aligned + len), tail);
  return reinterpret_cast<void*>(aligned);
}

// memAlloc(size: number, align2M?: boolean): { handle, buffer, address: bigint, size: number }.
// size is rounded up to whole pages (the SVM ioctl only takes page multiples).
static Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t page = PageSize();
  uint64_t size = ArgSize(info, 0, "size");
  bool align2M = ArgBool(info, 1, "align2M", false);
  uint64_t len = (size + page - 1) / page * page;
  int err = 0;
  void* p = MapAnon(static_cast<size_t>(len), align2M, &err);
  if (!p) ThrowSys(env, SysError{err, "mmap", "", ""});
  auto block = std::make_shared<MemBlock>(p, static_cast<size_t>(len));

  auto* hint = new std::shared_ptr<MemBlock>(block);
  Napi::ArrayBuffer ab;
  try {
    ab = Napi::ArrayBuffer::New(env, p, static_cast<size_t>(len),
                                [](Napi::Env, void*, std::shared_ptr<MemBlock>* h) { delete h; }, hint);
  } catch (...) {
    delete hint;  // not handed to V8: ours to drop (block's destructor unmaps)
    throw;
  }
  auto* h = new MappingHandle{block, Napi::Reference<Napi::ArrayBuffer>::New(ab, 0), false};
  auto ext = Napi::External<MappingHandle>::New(env, h, [](Napi::Env, MappingHandle* m) { delete m; });
  ext.TypeTag(&kMappingTag);

  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", ext);
  out.Set("buffer", ab);
  out.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p))));
  out.Set("size", Napi::Number::New(env, static_cast<double>(len)));
  return out;
}

// memFree(handle): detaches the ArrayBuffer (every view now has length 0), then unmaps. Idempotent.
static Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MappingHandle* h = ArgHandle<MappingHandle>(info, 0, kMappingTag, "mapping");
  if (h->freed) return env.Undefined();
  h->freed = true;
  if (!h->buffer.IsEmpty()) {
    Napi::ArrayBuffer ab = h->buffer.Value();
    if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
    h->buffer.Reset();
  }
  h->block->Unmap();
  h->block.reset();
  return env.Undefined();
}

static Napi::Value IsFreed(const Napi::CallbackInfo& info) {
  MappingHandle* h = ArgHandle<MappingHandle>(info, 0, kMappingTag, "mapping");
  return Napi::Boolean::New(info.Env(), h->freed);
}

// memPeek(address: bigint, length: number): a copy of length bytes read at address with
// process_vm_readv on our own pid, which answers EFAULT for unmapped memory instead of faulting, so any
// address is safe to pass. Used to check what JS wrote through a view, and that freed memory is gone.
static Napi::Value Peek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t addr = ArgU64(info, 0, "address");
  uint64_t len = ArgSize(info, 1, "length", 1ull << 30);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(len));
  if (len == 0) return out;
  struct iovec local = {out.Data(), static_cast<size_t>(len)};
  struct iovec remote = {reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), static_cast<size_t>(len)};
  ssize_t n = ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
  if (n < 0) ThrowSys(env, SysError{errno, "process_vm_readv", "", ""});
  if (static_cast<uint64_t>(n) != len) ThrowSys(env, SysError{EFAULT, "process_vm_readv", "", "partial read"});
  return out;
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("memAlloc", Napi::Function::New(env, Alloc, "memAlloc"));
  exports.Set("memFree", Napi::Function::New(env, Free, "memFree"));
  exports.Set("memIsFreed", Napi::Function::New(env, IsFreed, "memIsFreed"));
  exports.Set("memPeek", Napi::Function::New(env, Peek, "memPeek"));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
}

}  // namespace kfdsvm
