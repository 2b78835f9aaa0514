// The binding's one error policy. node-addon-api runs with C++ exceptions (NAPI_CPP_EXCEPTIONS,
// binding.gyp), and every entry point is registered through fn<>/method<> below, so whatever C++
// throws on the JavaScript thread, or in a PromiseWorker, reaches JavaScript through to_js_error:
// never a process abort (node terminates on a C++ exception that leaves a callback), never an
// error reduced to its text. What JavaScript gets (the front's RewindError, registered with
// setErrorClass; a plain Error before that):
//   rwd::SysError            code = errno name ('ENOENT', 'EBUSY'...), errno, syscall, path
//   rwd::DecodeError         code 'ERR_REWIND_DAMAGED', path = the file, offset
//   rwd::AbiMismatch         code 'ERR_REWIND_ABI'
//   std::invalid_argument    code 'ERR_REWIND_INVALID_ARG'
//   other exceptions         code 'ERR_REWIND_NATIVE'
//   Napi::Error              unchanged (the binding's own argument errors)
#pragma once

#include <napi.h>

#include <exception>

namespace rwd_napi {

// The JavaScript error for an exception (see above).
Napi::Error to_js_error(Napi::Env env, std::exception_ptr e);

// Runs f; any exception becomes the JavaScript error of to_js_error.
template <typename F>
auto call_guarded(Napi::Env env, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    throw to_js_error(env, std::current_exception());
  }
}

// A function entry point under the policy: exports.Set("x", Napi::Function::New(env, fn<X>, "x")).
template <Napi::Value (*F)(const Napi::CallbackInfo &)>
Napi::Value fn(const Napi::CallbackInfo &info) {
  return call_guarded(info.Env(), [&] { return F(info); });
}

// setErrorClass(RewindError): the class the errors above are made of, (message, properties).
void init_errors(Napi::Env env, Napi::Object exports);

}  // namespace rwd_napi
