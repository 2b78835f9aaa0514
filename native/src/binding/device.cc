// Binding of /dev/rewind: a Device object per open file. Ioctls are quick and run on the JS
// thread; the snapshot copies megabytes and runs in a PromiseWorker. The core Device is shared
// with running workers (shared_ptr) and is their one serial owner (core/device.h): a call during
// a snapshot is refused with EBUSY, close() waits for it. An environment cleanup hook closes
// whatever JavaScript left open. Info, statistics and the snapshot result carry the UAPI's and
// the core's field names (snake_case); the statistics are built from REWIND_STATS_COUNTERS.
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
        {method<&DeviceWrap::Close>("close"), method<&DeviceWrap::Info>("info"),
         method<&DeviceWrap::Stats>("stats"), method<&DeviceWrap::Configure>("configure"),
         method<&DeviceWrap::Run<&rwd::Device::start>>("start"),
         method<&DeviceWrap::Run<&rwd::Device::stop>>("stop"),
         method<&DeviceWrap::Run<&rwd::Device::statedump>>("statedump"),
         method<&DeviceWrap::Run<&rwd::Device::flush>>("flush"),
         method<&DeviceWrap::Metadata>("metadata"), method<&DeviceWrap::ReadRing>("readRing"),
         method<&DeviceWrap::Snapshot>("snapshot"), method<&DeviceWrap::Test>("test"),
         InstanceAccessor<&DeviceWrap::AbiVersion>("abiVersion"),
         InstanceAccessor<&DeviceWrap::FormatVersion>("formatVersion")});
  }

  explicit DeviceWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<DeviceWrap>(info) {
    const std::string path = info.Length() > 0 && info[0].IsString()
                                 ? info[0].As<Napi::String>().Utf8Value()
                                 : std::string(REWIND_DEVICE);
    dev_ = call_guarded(info.Env(), [&] { return std::make_shared<rwd::Device>(path); });
    std::weak_ptr<rwd::Device> weak = dev_;
    hook_ = info.Env().AddCleanupHook(std::function<void()>([weak] {
      if (auto d = weak.lock()) d->close();
    }));
  }
  ~DeviceWrap() override {
    if (dev_) dev_->close();
  }

 private:
  // An instance method under the binding's error policy (errors.h).
  template <Napi::Value (DeviceWrap::*M)(const Napi::CallbackInfo &)>
  static PropertyDescriptor method(const char *name) {
    return InstanceMethod<&DeviceWrap::Guarded<M>>(name);
  }
  template <Napi::Value (DeviceWrap::*M)(const Napi::CallbackInfo &)>
  Napi::Value Guarded(const Napi::CallbackInfo &info) {
    return call_guarded(info.Env(), [&] { return (this->*M)(info); });
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
    const rewind_info i = dev_->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("abi_version", i.abi_version);
    o.Set("state", i.state);
    o.Set("nr_cpu_ids", i.nr_cpu_ids);
    o.Set("subbuf_size", i.subbuf_size);
    o.Set("num_subbufs", i.num_subbufs);
    o.Set("mode", i.mode);
    o.Set("probe_mask", big(env, i.probe_mask));
    o.Set("probe_active", big(env, i.probe_active));
    o.Set("mmap_stride", big(env, i.mmap_stride));
    o.Set("metadata_len", big(env, i.metadata_len));
    o.Set("test_hooks", i.test_hooks != 0);
    return o;
  }
  Napi::Value Stats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const rewind_stats s = dev_->stats(to_uint32(info[0], "cpu"));
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpu", s.cpu);
    o.Set("online", s.online != 0);
#define RWD_STATS_SET(field, help) o.Set(#field, big(env, s.field));
    REWIND_STATS_COUNTERS(RWD_STATS_SET)
#undef RWD_STATS_SET
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
    dev_->configure(c);
    return env.Undefined();
  }
  // start, stop, statedump, flush: an ioctl without argument or result.
  template <void (rwd::Device::*Command)()>
  Napi::Value Run(const Napi::CallbackInfo &info) {
    ((*dev_).*Command)();
    return info.Env().Undefined();
  }
  Napi::Value Metadata(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const bool remeasure = info.Length() > 0 && info[0].ToBoolean().Value();
    return Napi::String::New(env, dev_->metadata(remeasure));
  }
  // A copy of the CPU's ring as mapped read-only (see Device::read_ring).
  Napi::Value ReadRing(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const uint32_t cpu = to_uint32(info[0], "cpu");
    std::vector<uint8_t> bytes = dev_->read_ring(cpu);
    return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
  }
  Napi::Value Test(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const Napi::Object o = object_arg(info, 0, "options");
    const uint32_t op = uint32_t(get_uint64(o, "op", 0));
    const uint64_t count = get_uint64(o, "count", 0), period = get_uint64(o, "periodNs", 0);
    const uint32_t burst = uint32_t(get_uint64(o, "burst", 0));
    return big(env, dev_->test(op, count, burst, period));
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
          r.Set("metadata_bytes", big(env, result->metadata_bytes));
          Napi::Array cpus = Napi::Array::New(env, result->cpus.size());
          for (size_t i = 0; i < result->cpus.size(); i++) {
            const rwd::SnapshotCpu &c = result->cpus[i];
            Napi::Object x = Napi::Object::New(env);
            x.Set("cpu", c.cpu);
            x.Set("file", c.file);
            x.Set("bytes", big(env, c.bytes));
            x.Set("packets", big(env, c.packets));
            x.Set("skipped", big(env, c.skipped));
            x.Set("first_seq", big(env, c.first_seq));
            x.Set("last_seq", big(env, c.last_seq));
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
  // Tracepoint names, index = bit of probe_mask (enum rewind_probe).
  Napi::Array probes = Napi::Array::New(env, REWIND_PROBE_COUNT);
#define RWD_PROBE_SET(bit, NAME, tp) probes.Set(uint32_t(bit), #tp);
  REWIND_PROBE_TABLE(RWD_PROBE_SET)
#undef RWD_PROBE_SET
  c.Set("probes", probes);
  // The 64-bit counters of struct rewind_stats, in struct order: {name, help}.
  Napi::Array counters = Napi::Array::New(env, REWIND_STATS_NR_COUNTERS);
#define RWD_COUNTER_SET(field, help)                       \
  {                                                        \
    Napi::Object o = Napi::Object::New(env);               \
    o.Set("name", #field);                                 \
    o.Set("help", help);                                   \
    counters.Set(uint32_t(REWIND_STATS_INDEX_##field), o); \
  }
  REWIND_STATS_COUNTERS(RWD_COUNTER_SET)
#undef RWD_COUNTER_SET
  c.Set("statsCounters", counters);
  c.Set("hostnameMaxBytes", sizeof(rewind_config::hostname) - 1);  // the NUL

  // A trace directory's layout (format.h).
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("metadata", REWIND_TRACE_METADATA);
  layout.Set("streamPrefix", REWIND_TRACE_STREAM_PREFIX);
  c.Set("traceLayout", layout);
  exports.Set("constants", c);
}

}  // namespace rwd_napi
