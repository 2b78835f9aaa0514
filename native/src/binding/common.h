// Helpers shared by the binding files: argument reading (TypeError naming the argument) and the
// promise-returning AsyncWorker. No logic: conversions only. Errors: errors.h.
#pragma once

#include <napi.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>

#include "binding/errors.h"

namespace rwd_napi {

inline Napi::Object object_arg(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (info.Length() <= i || !info[i].IsObject())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an object");
  return info[i].As<Napi::Object>();
}

inline std::string string_arg(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

inline bool has(const Napi::Object &o, const char *key) {
  return o.Has(key) && !o.Get(key).IsUndefined() && !o.Get(key).IsNull();
}

inline std::string get_string(const Napi::Object &o, const char *key,
                              const std::string &dflt = "") {
  if (!has(o, key)) return dflt;
  const Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

inline bool get_bool(const Napi::Object &o, const char *key, bool dflt = false) {
  if (!has(o, key)) return dflt;
  const Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// An integer given as a number or a bigint (64-bit values travel as bigints).
inline int64_t to_int64(const Napi::Value &v, const char *key) {
  if (v.IsBigInt()) {
    bool lossless = true;
    const int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(v.Env(), std::string(key) + " does not fit 64 bits");
    return x;
  }
  if (v.IsNumber()) return v.As<Napi::Number>().Int64Value();
  throw Napi::TypeError::New(v.Env(), std::string(key) + " must be a number or a bigint");
}

inline uint64_t to_uint64(const Napi::Value &v, const char *key) {
  if (v.IsBigInt()) {
    bool lossless = true;
    const uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(v.Env(), std::string(key) + " does not fit 64 bits");
    return x;
  }
  if (v.IsNumber()) {
    // A negative or fractional number would otherwise wrap or truncate silently.
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d >= 18446744073709551616.0 || d != double(uint64_t(d)))
      throw Napi::RangeError::New(v.Env(), std::string(key) + " must be a non-negative integer");
    return uint64_t(d);
  }
  throw Napi::TypeError::New(v.Env(), std::string(key) + " must be a number or a bigint");
}

inline uint32_t to_uint32(const Napi::Value &v, const char *key) {
  const uint64_t x = to_uint64(v, key);
  if (x > UINT32_MAX)
    throw Napi::RangeError::New(v.Env(), std::string(key) + " does not fit 32 bits");
  return uint32_t(x);
}

inline int64_t get_int64(const Napi::Object &o, const char *key, int64_t dflt) {
  return has(o, key) ? to_int64(o.Get(key), key) : dflt;
}

inline uint64_t get_uint64(const Napi::Object &o, const char *key, uint64_t dflt) {
  return has(o, key) ? to_uint64(o.Get(key), key) : dflt;
}

inline Napi::BigInt big(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }
inline Napi::BigInt sbig(Napi::Env env, int64_t v) { return Napi::BigInt::New(env, v); }

// The baton pattern: Run (plain C++, no JS) on a worker thread, then Done builds the result on the
// JS thread. An exception of either rejects the promise with to_js_error's error (errors.h), so a
// worker's failure keeps its identity (code, errno, syscall, path) like a synchronous one.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Run = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  static Napi::Promise Start(Napi::Env env, const char *name, Run run, Done done) {
    auto *w = new PromiseWorker(env, name, std::move(run), std::move(done));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      run_();
    } catch (...) {
      error_ = std::current_exception();  // converted on the JS thread, in OnOK
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_) return deferred_.Reject(to_js_error(env, error_).Value());
    try {
      deferred_.Resolve(done_(env));
    } catch (...) {
      deferred_.Reject(to_js_error(env, std::current_exception()).Value());
    }
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  PromiseWorker(Napi::Env env, const char *name, Run run, Done done)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        run_(std::move(run)),
        done_(std::move(done)) {}
  Napi::Promise::Deferred deferred_;
  Run run_;
  Done done_;
  std::exception_ptr error_;
};

// Registration functions of the binding files.
void init_trace(Napi::Env env, Napi::Object exports);
void init_device(Napi::Env env, Napi::Object exports);

}  // namespace rwd_napi
