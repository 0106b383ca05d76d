// kfd-svm: SMI event sources (the anonymous fd AMDKFD_IOC_SMI_EVENTS returns).
#ifndef KFD_SVM_SMI_H
#define KFD_SVM_SMI_H
#include <napi.h>
namespace kfdsvm {
void InitSmi(Napi::Env env, Napi::Object exports);
}
#endif
