// The conversion of C++ exceptions into JavaScript errors (errors.h), and the test-only entry
// point that proves it on both sides of the binding.
#include "binding/errors.h"

#include <functional>
#include <stdexcept>
#include <string>

#include "binding/common.h"
#include "core/device.h"
#include "core/reader.h"
#include "core/sys_error.h"

namespace rwd_napi {

namespace {

// Per environment: the error class registered by the front.
struct ErrorClass {
  Napi::FunctionReference ctor;
};

// An instance of the registered class (constructed with the message), or an Error, with `code`
// and the properties `more` sets.
Napi::Error make_error(Napi::Env env, const std::string &message, const char *code,
                       const std::function<void(Napi::Object)> &more = {}) {
  ErrorClass *cls = env.GetInstanceData<ErrorClass>();
  Napi::Object e = cls ? cls->ctor.New({Napi::String::New(env, message)})
                       : Napi::Error::New(env, message).Value();
  e.Set("code", code);
  if (more) more(e);
  return Napi::Error(env, e);
}

Napi::Value SetErrorClass(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(env, "setErrorClass: a class is expected");
  auto *cls = new ErrorClass{Napi::Persistent(info[0].As<Napi::Function>())};
  env.SetInstanceData<ErrorClass>(cls);  // deletes the previous one
  return env.Undefined();
}

// testThrow(kind, async): throws what the core throws, on the JavaScript thread or (async) in a
// PromiseWorker, so the tests see the policy at work without a device or a damaged trace.
[[noreturn]] void throw_kind(const std::string &kind) {
  if (kind == "sys")
    throw rwd::SysError(ENOENT, "open", "/test/missing", "cannot open /test/missing");
  if (kind == "damaged") throw rwd::DecodeError("/test/stream_0", 68, "test damage");
  if (kind == "invalid") throw std::invalid_argument("test: invalid argument");
  if (kind == "runtime") throw std::runtime_error("test: runtime error");
  throw 42;  // not a std::exception
}

Napi::Value TestThrow(const Napi::CallbackInfo &info) {
  const std::string kind = string_arg(info, 0, "kind");
  if (!(info.Length() > 1 && info[1].ToBoolean().Value())) throw_kind(kind);
  return PromiseWorker::Start(
      info.Env(), "rewind.testThrow", [kind] { throw_kind(kind); },
      [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
}

}  // namespace

Napi::Error to_js_error(Napi::Env env, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const Napi::Error &x) {
    return x;
  } catch (const rwd::SysError &x) {
    const std::string name = x.code();
    return make_error(env, x.what(), name.empty() ? "ERR_REWIND_SYSTEM" : name.c_str(),
                      [&](Napi::Object o) {
                        o.Set("errno", x.err());
                        if (!x.syscall().empty()) o.Set("syscall", x.syscall());
                        if (!x.path().empty()) o.Set("path", x.path());
                      });
  } catch (const rwd::DecodeError &x) {
    return make_error(env, x.what(), "ERR_REWIND_DAMAGED", [&](Napi::Object o) {
      o.Set("path", x.file());
      o.Set("offset", double(x.offset()));
    });
  } catch (const rwd::AbiMismatch &x) {
    return make_error(env, x.what(), "ERR_REWIND_ABI");
  } catch (const std::invalid_argument &x) {
    return make_error(env, x.what(), "ERR_REWIND_INVALID_ARG");
  } catch (const std::exception &x) {
    return make_error(env, x.what(), "ERR_REWIND_NATIVE");
  } catch (...) {
    return make_error(env, "unknown native exception", "ERR_REWIND_NATIVE");
  }
}

void init_errors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, fn<SetErrorClass>, "setErrorClass"));
  exports.Set("testThrow", Napi::Function::New(env, fn<TestThrow>, "testThrow"));
}

}  // namespace rwd_napi
