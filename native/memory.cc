// kfd-svm: SVM memory. mmap(MAP_PRIVATE | MAP_ANONYMOUS) gives page-aligned memory the kernel can register
// as an SVM range; JS sees it as an external ArrayBuffer over the same pages (zero copy: on a coherent link
// the CPU reads migrated VRAM in place through that view).
//
// Lifetime: the pages belong to a MemBlock shared by the mapping handle and the ArrayBuffer's finalizer, so
// they stay mapped while either is reachable, and are unmapped exactly once: by free(), or when the last of
// the two is collected. free() detaches the ArrayBuffer first, so no view can reach unmapped memory.
//
// Runtimes that forbid external ArrayBuffers (Electron 21+, whose V8 memory cage keeps every ArrayBuffer's
// memory inside the cage: napi_create_external_arraybuffer answers napi_no_external_buffers_allowed), and
// builds with NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED (node-addon-api's define for them, which removes the
// external-buffer APIs), get the mapping with `buffer: null`: the handle alone owns the pages, and
// memRead/memWrite copy between them and a caller's view.
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
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
  Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: detach it on free() if it is still alive; empty if none
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

#ifndef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
static void DropBlockRef(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<MemBlock>*>(hint); }

// An external ArrayBuffer over the block (its finalizer holds a reference to the block), or an empty value
// when the runtime refuses external buffers. The C call rather than Napi::ArrayBuffer::New, whose throw
// would not tell that refusal from any other failure.
//
// Who owns the hint after a failure depends on where the call failed. Node answers these before it takes
// it (argument checks, a pending exception, the memory cage's refusal), so it is ours to drop. Past that
// point Node owns it: node::Buffer::New, refusing a length above kMaxLength (4 GiB on Node 20), calls the
// finalizer itself before it returns napi_generic_failure, and an ArrayBuffer made before a later failure
// runs it when collected. Dropping it then was a double free: memAlloc of more than 4 GiB crashed the
// process. (The caller avoids that case anyway: see memAlloc's wantBuffer.)
static bool HintStillOurs(napi_status st) {
  return st == napi_no_external_buffers_allowed || st == napi_invalid_arg || st == napi_pending_exception;
}

static Napi::Value ExternalBuffer(Napi::Env env, const std::shared_ptr<MemBlock>& block) {
  auto* hint = new std::shared_ptr<MemBlock>(block);
  napi_value ab = nullptr;
  napi_status st = napi_create_external_arraybuffer(env, block->base, block->len, DropBlockRef, hint, &ab);
  if (st == napi_ok) return Napi::Value(env, ab);
  if (HintStillOurs(st)) delete hint;  // not handed to Node: ours to drop (the handle keeps the block)
  if (st == napi_no_external_buffers_allowed) return Napi::Value();
  throw Napi::Error::New(env);  // reads the last error info of the failed call (or its pending exception)
}
#else
static Napi::Value ExternalBuffer(Napi::Env, const std::shared_ptr<MemBlock>&) { return Napi::Value(); }
#endif

// memAlloc(size: number, align2M?: boolean, wantBuffer?: boolean):
//   { handle, buffer: ArrayBuffer | null, address: bigint, size }.
// size is rounded up to whole pages (the SVM ioctl only takes page multiples). buffer is null where the
// runtime (or this build) has no external ArrayBuffers, or when the caller asks for none (wantBuffer false:
// a mapping larger than the runtime's largest ArrayBuffer, buffer.constants.MAX_LENGTH); the memory is
// mapped all the same, and memRead/memWrite reach all of it.
static Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t page = PageSize();
  uint64_t size = ArgSize(info, 0, "size");
  bool align2M = ArgBool(info, 1, "align2M", false);
  bool wantBuffer = ArgBool(info, 2, "wantBuffer", true);
  uint64_t len = (size + page - 1) / page * page;
  int err = 0;
  void* p = MapAnon(static_cast<size_t>(len), align2M, &err);
  if (!p) ThrowSys(env, SysError{err, "mmap", "", ""});
  auto block = std::make_shared<MemBlock>(p, static_cast<size_t>(len));

  Napi::Value ab = wantBuffer ? ExternalBuffer(env, block) : Napi::Value();
  auto h = std::make_unique<MappingHandle>();
  h->block = block;
  if (!ab.IsEmpty()) h->buffer = Napi::Reference<Napi::ArrayBuffer>::New(ab.As<Napi::ArrayBuffer>(), 0);
  auto ext = Napi::External<MappingHandle>::New(env, h.get(), [](Napi::Env, MappingHandle* m) { delete m; });
  h.release();  // the External's finalizer owns it now
  ext.TypeTag(&kMappingTag);

  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", ext);
  out.Set("buffer", ab.IsEmpty() ? env.Null() : ab);
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

// The bytes of an ArrayBufferView argument (a typed array, Buffer or DataView; its byte offset included).
// TypeError for anything else, and for a view whose ArrayBuffer is detached (what V8 itself throws when a
// detached buffer is used). A SharedArrayBuffer's view is fine: the copy is one memmove, as racy as any
// other access to shared memory.
static uint8_t* ArgView(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* bytes) {
  napi_env env = info.Env();
  napi_value v = info.Length() > i ? static_cast<napi_value>(info[i]) : nullptr;
  bool is = false;
  void* data = nullptr;
  napi_value ab = nullptr;
  size_t n = 0;
  if (v != nullptr && napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type = napi_uint8_array;
    size_t length = 0;
    size_t elem = 0;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, nullptr) != napi_ok) is = false;
    switch (type) {
      case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: elem = 1; break;
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: is = false;  // a kind this header does not know (Float16Array): refuse rather than guess
    }
    n = length * elem;
  } else if (v != nullptr && napi_is_dataview(env, v, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, v, &n, &data, &ab, nullptr) != napi_ok) is = false;
  }
  if (!is) ThrowType(info.Env(), std::string(name) + " must be a TypedArray, Buffer or DataView");
  // A detached view has length 0; telling it from an empty one needs the buffer itself.
  bool detached = false;
  if (n == 0 && napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached) {
    ThrowType(info.Env(), std::string(name) + " is a view of a detached ArrayBuffer");
  }
  *bytes = n;
  return static_cast<uint8_t*>(data);
}

// The mapping's bytes [offset, offset + n), after the checks memRead and memWrite share: a freed mapping is
// EFAULT (its pages are gone: what copy_{to,from}_user answers for unmapped memory), and a span that does
// not fit inside the mapping is a RangeError (written so that offset + n cannot wrap).
static uint8_t* MappedSpan(const Napi::CallbackInfo& info, MappingHandle* h, uint64_t offset, size_t n) {
  if (h->freed) ThrowSys(info.Env(), SysError{EFAULT, "memcpy", "", "the mapping was freed"});
  uint64_t len = h->block->len;
  if (offset > len || n > len - offset) {
    ThrowRange(info.Env(), "offset " + std::to_string(offset) + " + length " + std::to_string(n) +
                               " is outside the mapping of " + std::to_string(len) + " bytes");
  }
  return static_cast<uint8_t*>(h->block->base) + offset;
}

// memRead(handle, offset: number, target: ArrayBufferView): copies target.byteLength bytes of the mapping,
// from offset, into target. Pages in device-private VRAM fault back to system memory on the way, as for any
// CPU access (svm_migrate_to_ram). memmove: the target may be a view of this very mapping.
static Napi::Value Read(const Napi::CallbackInfo& info) {
  MappingHandle* h = ArgHandle<MappingHandle>(info, 0, kMappingTag, "mapping");
  uint64_t offset = ArgSize(info, 1, "offset");
  size_t n = 0;
  uint8_t* dst = ArgView(info, 2, "target", &n);
  const uint8_t* src = MappedSpan(info, h, offset, n);
  if (n) std::memmove(dst, src, n);
  return info.Env().Undefined();
}

// memWrite(handle, offset: number, source: ArrayBufferView): copies source into the mapping at offset.
static Napi::Value Write(const Napi::CallbackInfo& info) {
  MappingHandle* h = ArgHandle<MappingHandle>(info, 0, kMappingTag, "mapping");
  uint64_t offset = ArgSize(info, 1, "offset");
  size_t n = 0;
  const uint8_t* src = ArgView(info, 2, "source", &n);
  uint8_t* dst = MappedSpan(info, h, offset, n);
  if (n) std::memmove(dst, src, n);
  return info.Env().Undefined();
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
  exports.Set("memRead", Napi::Function::New(env, Read, "memRead"));
  exports.Set("memWrite", Napi::Function::New(env, Write, "memWrite"));
  exports.Set("memPeek", Napi::Function::New(env, Peek, "memPeek"));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
}

}  // namespace kfdsvm
