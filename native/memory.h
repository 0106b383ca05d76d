// kfd-svm: page-aligned anonymous memory handed to JS as external ArrayBuffers (no copy).
#ifndef KFD_SVM_MEMORY_H
#define KFD_SVM_MEMORY_H
#include <napi.h>
namespace kfdsvm {
void InitMemory(Napi::Env env, Napi::Object exports);
}
#endif
