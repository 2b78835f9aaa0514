// Binding of /dev/rewind: a Device object per open file. Ioctls are quick and run on the JS
// thread; the snapshot copies megabytes and runs in a PromiseWorker. The core Device is shared
// with running workers (shared_ptr) and serializes its calls, so close() during a snapshot is
// safe; an environment cleanup hook closes whatever JavaScript left open.
#include "core/device.h"

#include <rewind/format.h>
#include <uapi/rewind.h>

#include <memory>

#include "binding/common.h"

namespace rwd_napi {

namespace {

class DeviceWrap : public Napi::ObjectWrap<DeviceWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Device",
        {InstanceMethod<&DeviceWrap::Close>("close"), InstanceMethod<&DeviceWrap::Info>("info"),
         InstanceMethod<&DeviceWrap::Stats>("stats"),
         InstanceMethod<&DeviceWrap::Configure>("configure"),
         InstanceMethod<&DeviceWrap::Simple>("start", napi_default, (void *)"start"),
         InstanceMethod<&DeviceWrap::Simple>("stop", napi_default, (void *)"stop"),
         InstanceMethod<&DeviceWrap::Simple>("statedump", napi_default, (void *)"statedump"),
         InstanceMethod<&DeviceWrap::Simple>("flush", napi_default, (void *)"flush"),
         InstanceMethod<&DeviceWrap::Metadata>("metadata"),
         InstanceMethod<&DeviceWrap::ReadRing>("readRing"),
         InstanceMethod<&DeviceWrap::Snapshot>("snapshot"),
         InstanceMethod<&DeviceWrap::Test>("test"),
         InstanceAccessor<&DeviceWrap::AbiVersion>("abiVersion"),
         InstanceAccessor<&DeviceWrap::FormatVersion>("formatVersion")});
  }

  explicit DeviceWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<DeviceWrap>(info) {
    const std::string path = info.Length() > 0 && info[0].IsString()
                                 ? info[0].As<Napi::String>().Utf8Value()
                                 : std::string(REWIND_DEVICE);
    try {
      dev_ = std::make_shared<rwd::Device>(path);
    } catch (const std::exception &e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    std::weak_ptr<rwd::Device> weak = dev_;
    hook_ = info.Env().AddCleanupHook(std::function<void()>([weak] {
      if (auto d = weak.lock()) d->close();
    }));
  }
  ~DeviceWrap() override {
    if (dev_) dev_->close();
  }

 private:
  rwd::Device &dev(Napi::Env env) {
    if (!dev_ || !dev_->is_open()) throw Napi::Error::New(env, "the device is closed");
    return *dev_;
  }
  template <typename F>
  auto guarded(Napi::Env env, F f) -> decltype(f()) {
    try {
      return f();
    } catch (const Napi::Error &) {
      throw;
    } catch (const std::exception &e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (dev_) dev_->close();
    if (!hook_.IsEmpty()) hook_.Remove(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value AbiVersion(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), dev_ ? dev_->abi_version() : 0);
  }
  Napi::Value FormatVersion(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), dev_ ? dev_->format_version() : 0);
  }
  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const rwd::DeviceInfo i = guarded(env, [&] { return dev(env).info(); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("abiVersion", i.abi_version);
    o.Set("state", i.state);
    o.Set("nrCpuIds", i.nr_cpu_ids);
    o.Set("subbufSize", i.subbuf_size);
    o.Set("numSubbufs", i.num_subbufs);
    o.Set("mode", i.mode);
    o.Set("probeMask", big(env, i.probe_mask));
    o.Set("probeActive", big(env, i.probe_active));
    o.Set("mmapStride", big(env, i.mmap_stride));
    o.Set("metadataLength", big(env, i.metadata_len));
    o.Set("testHooks", i.test_hooks != 0);
    return o;
  }
  Napi::Value Stats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const uint32_t cpu = to_uint32(info[0], "cpu");
    const rwd::CpuStats s = guarded(env, [&] { return dev(env).stats(cpu); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpu", s.cpu);
    o.Set("online", s.online != 0);
    o.Set("eventsWritten", big(env, s.events_written));
    o.Set("bytesWritten", big(env, s.bytes_written));
    o.Set("lostFull", big(env, s.lost_full));
    o.Set("lostNesting", big(env, s.lost_nesting));
    o.Set("lostWrap", big(env, s.lost_wrap));
    o.Set("lostTooBig", big(env, s.lost_too_big));
    o.Set("packetsOverwritten", big(env, s.packets_overwritten));
    o.Set("subbufSwitches", big(env, s.subbuf_switches));
    o.Set("oldestTimestamp", big(env, s.oldest_timestamp));
    o.Set("writePos", big(env, s.write_pos));
    o.Set("consumedPos", big(env, s.consumed_pos));
    return o;
  }
  Napi::Value Configure(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const Napi::Object o = object_arg(info, 0, "config");
    rwd::DeviceConfig c;
    c.subbuf_size = uint32_t(get_uint64(o, "subbufSize", 0));
    c.num_subbufs = uint32_t(get_uint64(o, "numSubbufs", 0));
    c.mode = uint32_t(get_uint64(o, "mode", 0));
    c.probe_mask = get_uint64(o, "probeMask", REWIND_PROBES_ALL);
    c.hostname = get_string(o, "hostname");
    guarded(env, [&] { dev(env).configure(c); });
    return env.Undefined();
  }
  Napi::Value Simple(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const std::string what = static_cast<const char *>(info.Data());
    guarded(env, [&] {
      rwd::Device &d = dev(env);
      if (what == "start") d.start();
      if (what == "stop") d.stop();
      if (what == "statedump") d.statedump();
      if (what == "flush") d.flush();
    });
    return env.Undefined();
  }
  Napi::Value Metadata(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const bool remeasure = info.Length() > 0 && info[0].ToBoolean().Value();
    return Napi::String::New(env, guarded(env, [&] { return dev(env).metadata(remeasure); }));
  }
  // A copy of the CPU's ring as mapped read-only (see Device::read_ring).
  Napi::Value ReadRing(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const uint32_t cpu = to_uint32(info[0], "cpu");
    std::vector<uint8_t> bytes = guarded(env, [&] { return dev(env).read_ring(cpu); });
    return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
  }
  Napi::Value Test(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const Napi::Object o = object_arg(info, 0, "options");
    const uint32_t op = uint32_t(get_uint64(o, "op", 0));
    const uint64_t count = get_uint64(o, "count", 0), period = get_uint64(o, "periodNs", 0);
    const uint32_t burst = uint32_t(get_uint64(o, "burst", 0));
    return big(env, guarded(env, [&] { return dev(env).test(op, count, burst, period); }));
  }
  // snapshot(dir, {statedump, remeasure, consume}) -> Promise<result>
  Napi::Value Snapshot(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const std::string dir = string_arg(info, 0, "dir");
    const Napi::Object o = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>()
                                                                   : Napi::Object::New(env);
    rwd::SnapshotOptions so;
    so.statedump = get_bool(o, "statedump", true);
    so.remeasure = get_bool(o, "remeasure", false);
    so.consume = get_bool(o, "consume", false);
    dev(env);  // closed: throw now, not in the worker
    std::shared_ptr<rwd::Device> d = dev_;
    auto result = std::make_shared<rwd::SnapshotResult>();
    return PromiseWorker::Start(
        env, "rewind.snapshot", [=] { *result = d->snapshot(dir, so); },
        [=](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("dir", result->dir);
          r.Set("bytes", big(env, result->bytes));
          r.Set("packets", big(env, result->packets));
          r.Set("skipped", big(env, result->skipped));
          r.Set("metadataBytes", big(env, result->metadata_bytes));
          Napi::Array cpus = Napi::Array::New(env, result->cpus.size());
          for (size_t i = 0; i < result->cpus.size(); i++) {
            const rwd::SnapshotCpu &c = result->cpus[i];
            Napi::Object x = Napi::Object::New(env);
            x.Set("cpu", c.cpu);
            x.Set("file", c.file);
            x.Set("bytes", big(env, c.bytes));
            x.Set("packets", big(env, c.packets));
            x.Set("skipped", big(env, c.skipped));
            x.Set("firstSeq", big(env, c.first_seq));
            x.Set("lastSeq", big(env, c.last_seq));
            cpus.Set(uint32_t(i), x);
          }
          r.Set("cpus", cpus);
          return r;
        });
  }

  std::shared_ptr<rwd::Device> dev_;
  Napi::Env::CleanupHook<std::function<void()>> hook_;
};

}  // namespace

void init_device(Napi::Env env, Napi::Object exports) {
  exports.Set("Device", DeviceWrap::Define(env));
  Napi::Object c = Napi::Object::New(env);
  c.Set("abiVersion", REWIND_ABI_VERSION);
  c.Set("formatVersion", REWIND_FORMAT_VERSION);
  c.Set("devicePath", REWIND_DEVICE);
  c.Set("probesAll", big(env, REWIND_PROBES_ALL));
  exports.Set("constants", c);
}

}  // namespace rwd_napi
