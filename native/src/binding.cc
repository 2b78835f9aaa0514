// The thin N-API binding: converts arguments and results, nothing else. Logic lives in core/.
#include <napi.h>

#include "core/version.h"

namespace {

Napi::Value Version(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), rwd::kNativeVersion);
}

Napi::Value BuildDescription(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), rwd::build_description());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("buildDescription", Napi::Function::New(env, BuildDescription, "buildDescription"));
  return exports;
}

}  // namespace

NODE_API_MODULE(rewind_native, Init)
