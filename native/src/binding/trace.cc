// Binding of the trace engine: event table, decode, merge (unified CTF, Chrome JSON, summary),
// and the userspace writer. Arguments become plain C++ structs on the JS thread; the work runs in
// a PromiseWorker; results become JS values in its Done step. The merge's result crosses as the
// core's structure with the core's names (snake_case): the TypeScript front names and sums.
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <vector>

#include "binding/common.h"
#include "core/event_table.h"
#include "core/merge.h"
#include "core/merge_files.h"
#include "core/name_stats.h"
#include "core/names.h"
#include "core/output.h"
#include "core/synth.h"
#include "core/writer.h"

namespace rwd_napi {

namespace {

// Field values to JS: integers of up to 32 bits as numbers, 64-bit ones as bigints, strings as
// strings, byte arrays as arrays of numbers.
Napi::Value value_to_js(Napi::Env env, const rwd::FieldDesc &f, const rwd::Value &v) {
  const rwd::FieldTypeInfo &t = rwd::field_type_info(f.type);
  if (f.size == 0) return Napi::String::New(env, v.bytes);
  if (t.is_bytes) {
    Napi::Array a = Napi::Array::New(env, v.bytes.size());
    for (size_t i = 0; i < v.bytes.size(); i++)
      a.Set(uint32_t(i), Napi::Number::New(env, static_cast<unsigned char>(v.bytes[i])));
    return a;
  }
  if (f.size == 8)
    return t.is_signed ? Napi::Value(sbig(env, int64_t(v.num))) : Napi::Value(big(env, v.num));
  return Napi::Number::New(env, t.is_signed ? double(int64_t(v.num)) : double(v.num));
}

rwd::Value value_from_js(const Napi::Value &js, const rwd::EventDesc &d, const rwd::FieldDesc &f) {
  const std::string where = d.name + "." + f.name;
  const rwd::FieldTypeInfo &t = rwd::field_type_info(f.type);
  rwd::Value v;
  if (f.size == 0) {
    if (!js.IsString()) throw Napi::TypeError::New(js.Env(), where + " must be a string");
    v.bytes = js.As<Napi::String>().Utf8Value();
  } else if (t.is_bytes) {
    if (js.IsBuffer()) {
      auto b = js.As<Napi::Buffer<uint8_t>>();
      v.bytes.assign(reinterpret_cast<const char *>(b.Data()), b.Length());
    } else if (js.IsArray()) {
      auto a = js.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) v.bytes += char(to_uint64(a.Get(i), where.c_str()));
    } else {
      throw Napi::TypeError::New(js.Env(), where + " must be a Buffer or an array of bytes");
    }
  } else {
    v.num = t.is_signed ? uint64_t(to_int64(js, where.c_str())) : to_uint64(js, where.c_str());
  }
  return v;
}

struct Row {
  uint32_t node, cpu, id;
  uint64_t ts;
  int64_t time_ns;
  std::vector<rwd::Value> values;
};

class CollectSink : public rwd::MergeSink {
 public:
  explicit CollectSink(uint64_t limit) : limit_(limit) {}
  void event(const rwd::MergedEvent &e) override {
    if (rows.size() >= limit_) {
      truncated = true;
      return;
    }
    rows.push_back({e.node, e.ev->cpu, e.ev->desc->id, e.ev->ts, e.time_ns,
                    rwd::decode_fields(*e.ev->desc, e.ev->payload, e.ev->size)});
  }
  std::vector<Row> rows;
  bool truncated = false;

 private:
  uint64_t limit_;
};

std::vector<rwd::MergeInput> inputs_from_js(const Napi::Value &v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "inputs must be an array");
  auto a = v.As<Napi::Array>();
  std::vector<rwd::MergeInput> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    if (!a.Get(i).IsObject()) throw Napi::TypeError::New(v.Env(), "inputs[i] must be an object");
    const Napi::Object o = a.Get(i).As<Napi::Object>();
    out.push_back({get_string(o, "dir"), get_string(o, "node"), get_int64(o, "correctionNs", 0)});
  }
  return out;
}

// {[node]: {[cgroupId in decimal]: {namespace, pod, container, podUid}}}, validated by the front.
rwd::PodNamesByNode pod_names_from_js(const Napi::Value &v) {
  const Napi::Env env = v.Env();
  if (!v.IsObject()) throw Napi::TypeError::New(env, "podNames must be an object");
  const Napi::Object by_node = v.As<Napi::Object>();
  rwd::PodNamesByNode out;
  const Napi::Array nodes = by_node.GetPropertyNames();
  for (uint32_t i = 0; i < nodes.Length(); i++) {
    const std::string node = nodes.Get(i).As<Napi::String>().Utf8Value();
    if (!by_node.Get(node).IsObject())
      throw Napi::TypeError::New(env, "podNames." + node + " must be an object");
    const Napi::Object table = by_node.Get(node).As<Napi::Object>();
    rwd::PodNameTable &t = out[node];
    const Napi::Array ids = table.GetPropertyNames();
    for (uint32_t k = 0; k < ids.Length(); k++) {
      const std::string id = ids.Get(k).As<Napi::String>().Utf8Value();
      const std::string where = "podNames." + node + "." + id;
      char *end = nullptr;
      errno = 0;
      const unsigned long long cgroup = std::strtoull(id.c_str(), &end, 10);
      if (id.empty() || id[0] < '0' || id[0] > '9' || *end || errno == ERANGE)
        throw Napi::TypeError::New(env, where + ": a cgroup id is a decimal 64-bit integer");
      if (!table.Get(id).IsObject()) throw Napi::TypeError::New(env, where + " must be an object");
      const Napi::Object n = table.Get(id).As<Napi::Object>();
      t[cgroup] = {get_string(n, "namespace"), get_string(n, "pod"), get_string(n, "container"),
                   get_string(n, "podUid")};
    }
  }
  return out;
}

rwd::MergeOptions merge_options(const Napi::Object &o) {
  rwd::MergeOptions m;
  m.strict = get_bool(o, "strict");
  m.from_ns = get_int64(o, "fromNs", INT64_MIN);
  m.to_ns = get_int64(o, "toNs", INT64_MAX);
  if (has(o, "correctionByNode")) {
    if (!o.Get("correctionByNode").IsObject())
      throw Napi::TypeError::New(o.Env(), "correctionByNode must be an object");
    const Napi::Object c = o.Get("correctionByNode").As<Napi::Object>();
    const Napi::Array names = c.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
      m.correction_by_node[name] = get_int64(c, name.c_str(), 0);
    }
  }
  if (has(o, "podNames")) m.pod_names = pod_names_from_js(o.Get("podNames"));
  return m;
}

// rwd::MergeResult as it is: nodes, streams (each with its node's index), damage. Times and clock
// values are bigints; counts are numbers (exact below 2^53).
Napi::Object result_to_js(Napi::Env env, const rwd::MergeResult &r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("events", double(r.events));
  out.Set("first_ns", sbig(env, r.first_ns));
  out.Set("last_ns", sbig(env, r.last_ns));
  Napi::Array nodes = Napi::Array::New(env, r.nodes.size());
  for (size_t i = 0; i < r.nodes.size(); i++) {
    const rwd::NodeInfo &n = r.nodes[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", n.name);
    o.Set("dir", n.dir);
    o.Set("hostname", n.meta.hostname());
    o.Set("trace_uuid", rwd::uuid_to_string(n.meta.uuid));
    o.Set("clock_uuid", n.meta.clock.uuid);
    o.Set("clock_offset_ns", sbig(env, n.meta.clock.offset_ns()));
    o.Set("correction_ns", sbig(env, n.correction_ns));
    o.Set("origin_ns", sbig(env, n.origin_ns));
    o.Set("events", double(r.per_node[i].events));
    o.Set("pod_events", double(r.per_node[i].pod_events));
    Napi::Object by_type = Napi::Object::New(env);
    for (const auto &kv : r.per_node[i].by_type()) by_type.Set(kv.first, double(kv.second));
    o.Set("events_by_type", by_type);
    nodes.Set(uint32_t(i), o);
  }
  out.Set("nodes", nodes);
  Napi::Array streams = Napi::Array::New(env, r.streams.size());
  for (size_t i = 0; i < r.streams.size(); i++) {
    const rwd::StreamInfo &s = r.streams[i];
    const rwd::StreamStats &st = s.stats;
    Napi::Object o = Napi::Object::New(env);
    o.Set("node", s.node);
    o.Set("path", s.path);
    o.Set("cpu", double(st.cpu));
    o.Set("packets", double(st.packets));
    o.Set("events", double(st.events));
    o.Set("first_ts", big(env, st.first_ts));
    o.Set("last_ts", big(env, st.last_ts));
    o.Set("first_seq", double(st.first_seq));
    o.Set("last_seq", double(st.last_seq));
    o.Set("lost_packets", double(st.lost_packets));
    o.Set("discarded_first", double(st.discarded_first));
    o.Set("discarded_last", double(st.discarded_last));
    o.Set("damaged_packets", double(st.damaged_packets));
    o.Set("damaged_bytes", double(st.damaged_bytes));
    streams.Set(uint32_t(i), o);
  }
  out.Set("streams", streams);
  Napi::Array damage = Napi::Array::New(env, r.damage.size());
  for (size_t i = 0; i < r.damage.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("file", r.damage[i].file);
    o.Set("offset", double(r.damage[i].offset));
    o.Set("reason", r.damage[i].reason);
    damage.Set(uint32_t(i), o);
  }
  out.Set("damage", damage);
  return out;
}

// A node's names (core/name_stats.h) as they are: syscalls [{id, name|null, count}], irqs [{irq,
// name|null, count}], threads that ran [{tid, comm, pod, switches_in, cpu_ns}]. The front sorts.
void names_to_js(Napi::Env env, Napi::Object node, const rwd::NodeNames &n) {
  Napi::Array syscalls = Napi::Array::New(env);
  for (const auto &kv : n.syscalls) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", double(kv.first));
    const char *name = rwd::syscall_name(kv.first);
    o.Set("name", name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
    o.Set("count", double(kv.second));
    syscalls.Set(syscalls.Length(), o);
  }
  node.Set("syscalls", syscalls);
  Napi::Array irqs = Napi::Array::New(env);
  for (const auto &kv : n.irqs) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("irq", double(kv.first));
    const auto name = n.irq_names.find(kv.first);
    o.Set("name", name == n.irq_names.end() ? env.Null()
                                            : Napi::Value(Napi::String::New(env, name->second)));
    o.Set("count", double(kv.second));
    irqs.Set(irqs.Length(), o);
  }
  node.Set("irqs", irqs);
  Napi::Array threads = Napi::Array::New(env);
  for (const auto &kv : n.threads) {
    const rwd::ThreadUse &u = kv.second;
    if (!u.switches_in && !u.cpu_ns) continue;  // named, but never ran in the window
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", double(u.tid));
    o.Set("comm", u.comm);
    o.Set("pod", u.pod);
    o.Set("switches_in", double(u.switches_in));
    o.Set("cpu_ns", double(u.cpu_ns));
    threads.Set(threads.Length(), o);
  }
  node.Set("threads", threads);
}

Napi::Value EventTable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  for (const rwd::EventDesc &d : rwd::event_table()) {
    if (!d.valid()) continue;
    Napi::Object e = Napi::Object::New(env);
    e.Set("id", d.id);
    e.Set("name", d.name);
    Napi::Array fields = Napi::Array::New(env, d.fields.size());
    for (size_t i = 0; i < d.fields.size(); i++) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("name", d.fields[i].name);
      f.Set("type", rwd::field_type_info(d.fields[i].type).name);
      fields.Set(uint32_t(i), f);
    }
    e.Set("fields", fields);
    out.Set(out.Length(), e);
  }
  return out;
}

// decode(inputs, {strict, limit, fromNs, toNs}) -> {events, truncated, result}
Napi::Value Decode(const Napi::CallbackInfo &info) {
  auto inputs = inputs_from_js(info[0]);
  const Napi::Object o = object_arg(info, 1, "options");
  const rwd::MergeOptions opts = merge_options(o);
  auto sink = std::make_shared<CollectSink>(get_uint64(o, "limit", UINT64_MAX));
  auto result = std::make_shared<rwd::MergeResult>();
  return PromiseWorker::Start(
      info.Env(), "rewind.decode", [=] { *result = rwd::merge_traces(inputs, {sink.get()}, opts); },
      [=](Napi::Env env) -> Napi::Value {
        Napi::Array events = Napi::Array::New(env, sink->rows.size());
        std::vector<Napi::String> node_names, event_names;
        for (const rwd::NodeInfo &n : result->nodes)
          node_names.push_back(Napi::String::New(env, n.name));
        for (const rwd::EventDesc &d : rwd::event_table())
          event_names.push_back(Napi::String::New(env, d.name));
        for (size_t i = 0; i < sink->rows.size(); i++) {
          const Row &r = sink->rows[i];
          const rwd::EventDesc &d = rwd::event_table()[r.id];
          Napi::Object e = Napi::Object::New(env);
          e.Set("node", node_names[r.node]);
          e.Set("cpu", r.cpu);
          e.Set("id", r.id);
          e.Set("name", event_names[r.id]);
          e.Set("timestamp", big(env, r.ts));
          e.Set("timeNs", sbig(env, r.time_ns));
          Napi::Object f = Napi::Object::New(env);
          for (size_t k = 0; k < d.fields.size(); k++)
            f.Set(d.fields[k].name, value_to_js(env, d.fields[k], r.values[k]));
          e.Set("fields", f);
          events.Set(uint32_t(i), e);
        }
        Napi::Object out = Napi::Object::New(env);
        out.Set("events", events);
        out.Set("truncated", sink->truncated);
        out.Set("result", result_to_js(env, *result));
        return out;
      });
}

// merge(inputs, {strict, fromNs, toNs, ctfDir, chromePath, chromeRelativeTime, force, names})
// -> result; with names, each node of the result also has its syscalls, irqs and threads
// (names_to_js).
Napi::Value Merge(const Napi::CallbackInfo &info) {
  auto inputs = inputs_from_js(info[0]);
  const Napi::Object o = object_arg(info, 1, "options");
  const rwd::MergeOptions opts = merge_options(o);
  rwd::MergeOutputs outputs;
  outputs.ctf_dir = get_string(o, "ctfDir");
  outputs.chrome_path = get_string(o, "chromePath");
  outputs.force = get_bool(o, "force");
  outputs.chrome_relative_time = get_bool(o, "chromeRelativeTime");
  auto names = get_bool(o, "names") ? std::make_shared<rwd::NameStatsSink>() : nullptr;
  auto result = std::make_shared<rwd::MergeResult>();
  return PromiseWorker::Start(
      info.Env(), "rewind.merge",
      [=] {
        std::vector<rwd::MergeSink *> observers;
        if (names) observers.push_back(names.get());
        *result = rwd::merge_to_outputs(inputs, outputs, opts, observers);
      },
      [=](Napi::Env env) -> Napi::Value {
        Napi::Object out = result_to_js(env, *result);
        if (names) {
          const Napi::Array nodes = out.Get("nodes").As<Napi::Array>();
          for (uint32_t i = 0; i < nodes.Length() && i < names->nodes().size(); i++)
            names_to_js(env, nodes.Get(i).As<Napi::Object>(), names->nodes()[i]);
        }
        return out;
      });
}

std::vector<std::string> strings_arg(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (!info[i].IsArray())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an array");
  const auto a = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    if (!a.Get(k).IsString())
      throw Napi::TypeError::New(info.Env(), std::string(name) + " must hold strings");
    out.push_back(a.Get(k).As<Napi::String>().Utf8Value());
  }
  return out;
}

// checkOutputs(inputDirs, outputPaths) -> void: the merge's own rule for files the caller writes
// itself (the CLI's summary): throws when one is, contains or lies inside an input.
Napi::Value CheckOutputs(const Napi::CallbackInfo &info) {
  const std::vector<std::string> inputs = strings_arg(info, 0, "inputs");
  const std::vector<std::string> paths = rwd::input_paths(inputs);
  for (const std::string &out : strings_arg(info, 1, "outputs"))
    rwd::check_output_apart(out, paths, "output");
  return info.Env().Undefined();
}

struct WriteEvent {
  uint32_t cpu, id;
  uint64_t ts;
  std::vector<rwd::Value> values;
};

// writeTrace(dir, {hostname, uuid, clockUuid, clockOffsetNs, packetSize, env}, events) -> void
Napi::Value WriteTrace(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string dir = string_arg(info, 0, "dir");
  const Napi::Object o = object_arg(info, 1, "options");
  rwd::WriterOptions wo;
  wo.meta = rwd::default_meta(get_string(o, "hostname"));
  if (has(o, "uuid") && !rwd::parse_uuid(get_string(o, "uuid"), wo.meta.uuid))
    throw Napi::TypeError::New(env, "uuid is not a uuid");
  if (has(o, "clockUuid")) wo.meta.clock.uuid = get_string(o, "clockUuid");
  wo.meta.clock.set_offset_ns(get_int64(o, "clockOffsetNs", 0));
  wo.packet_size = uint32_t(get_uint64(o, "packetSize", 65536));
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "events must be an array");
  auto arr = info[2].As<Napi::Array>();
  auto events = std::make_shared<std::vector<WriteEvent>>();
  events->reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    const Napi::Object e = arr.Get(i).As<Napi::Object>();
    const rwd::EventDesc *d =
        e.Get("name").IsString()
            ? rwd::find_event(uint32_t(rwd::find_event_id(get_string(e, "name"))))
            : rwd::find_event(uint32_t(get_uint64(e, "id", UINT32_MAX)));
    if (!d) throw Napi::TypeError::New(env, "events[" + std::to_string(i) + "]: unknown event");
    WriteEvent w{uint32_t(get_uint64(e, "cpu", 0)), d->id, get_uint64(e, "timestamp", 0), {}};
    const Napi::Object f =
        has(e, "fields") ? e.Get("fields").As<Napi::Object>() : Napi::Object::New(env);
    for (const rwd::FieldDesc &fd : d->fields) {
      if (!has(f, fd.name.c_str()))
        throw Napi::TypeError::New(
            env, "events[" + std::to_string(i) + "]: " + d->name + " needs field " + fd.name);
      w.values.push_back(value_from_js(f.Get(fd.name), *d, fd));
    }
    events->push_back(std::move(w));
  }
  return PromiseWorker::Start(
      env, "rewind.writeTrace",
      [=] {
        rwd::TraceWriter w(dir, wo);
        for (const WriteEvent &e : *events) w.event(e.cpu, e.id, e.ts, e.values);
        w.close();
      },
      [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
}

// writeSyntheticTrace(dir, {hostname, cpus, eventsPerCpu, seed, clockOffsetNs, packetSize}) -> n
Napi::Value WriteSyntheticTrace(const Napi::CallbackInfo &info) {
  const std::string dir = string_arg(info, 0, "dir");
  const Napi::Object o = object_arg(info, 1, "options");
  rwd::SynthOptions so;
  so.hostname = get_string(o, "hostname", so.hostname);
  so.cpus = uint32_t(get_uint64(o, "cpus", so.cpus));
  so.events_per_cpu = get_uint64(o, "eventsPerCpu", so.events_per_cpu);
  so.seed = get_uint64(o, "seed", so.seed);
  so.clock_offset_ns = get_int64(o, "clockOffsetNs", so.clock_offset_ns);
  so.packet_size = uint32_t(get_uint64(o, "packetSize", so.packet_size));
  auto n = std::make_shared<uint64_t>(0);
  return PromiseWorker::Start(
      info.Env(), "rewind.writeSyntheticTrace", [=] { *n = rwd::write_synthetic_trace(dir, so); },
      [=](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, double(*n)); });
}

}  // namespace

void init_trace(Napi::Env env, Napi::Object exports) {
  exports.Set("eventTable", Napi::Function::New(env, fn<EventTable>, "eventTable"));
  exports.Set("decode", Napi::Function::New(env, fn<Decode>, "decode"));
  exports.Set("merge", Napi::Function::New(env, fn<Merge>, "merge"));
  exports.Set("checkOutputs", Napi::Function::New(env, fn<CheckOutputs>, "checkOutputs"));
  exports.Set("writeTrace", Napi::Function::New(env, fn<WriteTrace>, "writeTrace"));
  exports.Set("writeSyntheticTrace",
              Napi::Function::New(env, fn<WriteSyntheticTrace>, "writeSyntheticTrace"));
}

}  // namespace rwd_napi
