// kfd-svm: the ABI numbers the addon was compiled with, exported for tests and the TS layer.
#ifndef KFD_SVM_CONSTANTS_H
#define KFD_SVM_CONSTANTS_H
#include <napi.h>
namespace kfdsvm {
void InitConstants(Napi::Env env, Napi::Object exports);
}
#endif
