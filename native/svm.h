// kfd-svm: AMDKFD_IOC_SVM exports (kfdSvmSync, kfdSvmAsync).
#ifndef KFD_SVM_SVM_H
#define KFD_SVM_SVM_H
#include <napi.h>
namespace kfdsvm {
void InitSvm(Napi::Env env, Napi::Object exports);
}
#endif
