// The thin N-API binding: converts arguments and results, nothing else. Logic lives in core/;
// the trace engine's and the device's bindings are in binding/.
#include <napi.h>

#include "binding/common.h"
#include "core/clock.h"
#include "core/version.h"

namespace {

Napi::Value Version(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), rwd::kNativeVersion);
}

Napi::Value BuildDescription(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), rwd::build_description());
}

// clockSamples(count): [{monotonicNs, realtimeNs, spreadNs}] (bigints), count in 1..64.
Napi::Value ClockSamples(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "count must be a number");
  const int64_t count = info[0].As<Napi::Number>().Int64Value();
  if (count < 1 || count > 64) throw Napi::RangeError::New(env, "count must be 1..64");
  const auto samples = rwd::clock_samples(static_cast<unsigned>(count));
  Napi::Array out = Napi::Array::New(env, samples.size());
  for (size_t i = 0; i < samples.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("monotonicNs", Napi::BigInt::New(env, samples[i].monotonic_ns));
    o.Set("realtimeNs", Napi::BigInt::New(env, samples[i].realtime_ns));
    o.Set("spreadNs", Napi::BigInt::New(env, samples[i].spread_ns));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using rwd_napi::fn;
  exports.Set("version", Napi::Function::New(env, fn<Version>, "version"));
  exports.Set("buildDescription",
              Napi::Function::New(env, fn<BuildDescription>, "buildDescription"));
  exports.Set("clockSamples", Napi::Function::New(env, fn<ClockSamples>, "clockSamples"));
  rwd_napi::init_errors(env, exports);
  rwd_napi::init_trace(env, exports);
  rwd_napi::init_device(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(rewind_native, Init)
