// The thin N-API binding: converts arguments and results, nothing else. Logic lives in core/;
// the trace engine's and the device's bindings are in binding/.
#include <napi.h>

#include "binding/common.h"
#include "core/version.h"

namespace {

Napi::Value Version(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), rwd::kNativeVersion);
}

Napi::Value BuildDescription(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), rwd::build_description());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using rwd_napi::fn;
  exports.Set("version", Napi::Function::New(env, fn<Version>, "version"));
  exports.Set("buildDescription",
              Napi::Function::New(env, fn<BuildDescription>, "buildDescription"));
  rwd_napi::init_errors(env, exports);
  rwd_napi::init_trace(env, exports);
  rwd_napi::init_device(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(rewind_native, Init)
