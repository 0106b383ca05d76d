// kfd-svm: keep the prebuild loadable on glibc 2.28+ (the floor of Node 20's own Linux builds).
//
// libstdc++ 12 on a glibc >= 2.32 host reads `__libc_single_threaded` (a glibc 2.32 symbol) to skip atomic
// reference counting in shared_ptr while a process has one thread. Referencing it stamps the addon with a
// GLIBC_2.32 version need, so it would not load on Ubuntu 20.04 (2.31) or RHEL 8 (2.28). Our own hidden
// definition, always 0 ("more than one thread"), satisfies those references inside the addon only: the
// counts are then always atomic, which is correct in every process (Node always runs several threads).
#if defined(__linux__)
#include <features.h>  // defines __GLIBC__ (musl has none: nothing to do there)
#endif
#if defined(__linux__) && defined(__GLIBC__)
extern "C" {
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}
#endif
