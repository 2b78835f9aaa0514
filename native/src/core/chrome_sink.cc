#include "core/chrome_sink.h"

#include <rewind/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/json.h"
#include "core/names.h"
#include "core/sys_error.h"

namespace rwd {

namespace {

void fields_json(std::string &o, const RawEvent &ev, const std::vector<Value> &v) {
  for (size_t i = 0; i < v.size(); i++) {
    const FieldDesc &f = ev.desc->fields[i];
    const FieldTypeInfo &t = field_type_info(f.type);
    if (i) o += ',';
    json_string(o, f.name);
    o += ':';
    if (f.size == 0) {
      json_string(o, v[i].bytes);
    } else if (t.is_bytes) {
      o += '"';
      for (unsigned char c : v[i].bytes) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", c);
        o += b;
      }
      o += '"';
    } else if (t.is_signed) {
      o += std::to_string(int64_t(v[i].num));
    } else if (t.hex || f.size == 8) {
      char b[24];
      std::snprintf(b, sizeof b, t.hex ? "\"0x%llx\"" : "\"%llu\"",
                    static_cast<unsigned long long>(v[i].num));
      o += b;  // 64-bit and hex values as strings: JSON numbers lose precision past 2^53
    } else {
      o += std::to_string(v[i].num);
    }
  }
}

// A CPU track's tid: the CPU's number, kept below the pods' ranges (chrome_sink.h).
uint32_t cpu_tid(uint32_t cpu) { return cpu & (ChromeSink::kPodPidBase - 1); }

std::string ids(uint32_t pid, uint32_t tid) {
  return ",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(tid);
}

}  // namespace

ChromeSink::ChromeSink(std::string path, bool relative_time)
    : path_(std::move(path)), relative_time_(relative_time), have_base_(!relative_time) {
  if (path_ == "-") {
    // Standard output: a duplicate, so closing it here leaves the process' own open.
    const int fd = ::dup(STDOUT_FILENO);
    if (fd < 0 || !(f_ = ::fdopen(fd, "wb"))) {
      if (fd >= 0) ::close(fd);
      throw_sys("dup", path_, "cannot write to standard output");
    }
  } else {
    f_ = std::fopen(path_.c_str(), "wb");
    if (!f_) throw_sys("open", path_, "cannot create " + path_);
  }
  static thread_local char buf[1 << 16];
  std::setvbuf(f_, buf, _IOFBF, sizeof buf);
  std::fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f_);
}

ChromeSink::~ChromeSink() {
  if (f_) std::fclose(f_);
}

void ChromeSink::emit(const std::string &json) {
  if (!first_) std::fputs(",\n", f_);
  first_ = false;
  std::fwrite(json.data(), 1, json.size(), f_);
}

// Microseconds (the format's unit) since `from` (base_: the Unix epoch, or the first event), with
// nanosecond digits.
void ChromeSink::ts_field(std::string &o, const char *key, int64_t from, int64_t to) const {
  const int64_t rel = int64_t(uint64_t(to) - uint64_t(from));  // wraps instead of overflowing
  char b[48];
  std::snprintf(b, sizeof b, ",\"%s\":%s%lld.%03lld", key, rel < 0 ? "-" : "",
                static_cast<long long>((rel < 0 ? -rel : rel) / 1000),
                static_cast<long long>((rel < 0 ? -rel : rel) % 1000));
  o += b;
}

void ChromeSink::begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &) {
  nodes_.resize(nodes.size());
  for (size_t n = 0; n < nodes.size(); n++) {
    node_names_.push_back(nodes[n].name);
    nodes_[n].pods = ThreadPods(nodes[n].pod_names);
    std::string o = "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(n + 1) +
                    ",\"tid\":0,\"args\":{\"name\":";
    json_string(o, "node " + nodes[n].name);
    o += "}}";
    emit(o);
    emit("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(n + 1) +
         ",\"tid\":0,\"args\":{\"sort_index\":" + std::to_string(n) + "}}");
  }
}

std::string ChromeSink::task_name(uint32_t node, int64_t tid) const {
  if (tid == 0) return "swapper";
  const auto it = nodes_[node].comm.find(tid);
  const std::string comm = it == nodes_[node].comm.end() ? "tid" : it->second;
  const PodName *pod = nodes_[node].pods.pod_of(int32_t(tid));
  return comm + " " + std::to_string(tid) + (pod ? " (" + pod_label(*pod) + ")" : "");
}

std::string ChromeSink::task_args(uint32_t node, int64_t tid) const {
  std::string o = "\"tid\":" + std::to_string(tid);
  if (const PodName *pod = nodes_[node].pods.pod_of(int32_t(tid))) {
    o += ",\"namespace\":";
    json_string(o, pod->ns);
    o += ",\"pod\":";
    json_string(o, pod->pod);
    o += ",\"container\":";
    json_string(o, pod->container);
    o += ",\"pod_uid\":";
    json_string(o, pod->pod_uid);
  }
  return o;
}

// A CPU's state; its track is named when first seen.
ChromeSink::Cpu &ChromeSink::cpu_state(uint32_t node, uint32_t cpu) {
  auto it = nodes_[node].cpus.find(cpu);
  if (it != nodes_[node].cpus.end()) return it->second;
  const std::string track = ids(node + 1, cpu_tid(cpu));
  emit("{\"name\":\"thread_name\",\"ph\":\"M\"" + track + ",\"args\":{\"name\":\"CPU " +
       std::to_string(cpu) + "\"}}");
  emit("{\"name\":\"thread_sort_index\",\"ph\":\"M\"" + track +
       ",\"args\":{\"sort_index\":" + std::to_string(cpu) + "}}");
  return nodes_[node].cpus[cpu];
}

void ChromeSink::push(uint32_t node, uint32_t cpu, Span s) {
  Cpu &c = cpu_state(node, cpu);
  c.stack.push_back(std::move(s));
}

void ChromeSink::close_span(uint32_t node, uint32_t cpu, const Span &s, int64_t t,
                            const std::string &extra) {
  static const char *const kCat[] = {"sched", "syscall", "irq", "softirq"};
  std::string o = "{\"name\":";
  json_string(o, s.name);
  o += ",\"cat\":\"";
  o += kCat[int(s.kind)];
  o += "\",\"ph\":\"X\"" + ids(node + 1, cpu_tid(cpu));
  ts_field(o, "ts", base_, s.start);
  ts_field(o, "dur", s.start, t);
  o += ",\"args\":{" + s.args;
  if (!extra.empty()) o += (s.args.empty() ? "" : ",") + extra;
  o += "}}";
  emit(o);
  spans_++;
}

// Closes spans from the top down to the nearest one of `kind` (included). If there is none of
// that kind, nothing is closed (an exit whose entry is before the window).
void ChromeSink::pop_to(uint32_t node, uint32_t cpu, Kind kind, int64_t t,
                        const std::string &extra) {
  Cpu &c = cpu_state(node, cpu);
  size_t k = c.stack.size();
  while (k > 0 && c.stack[k - 1].kind != kind) k--;
  if (k == 0) return;
  while (c.stack.size() >= k) {
    const Span s = c.stack.back();
    c.stack.pop_back();
    close_span(node, cpu, s, t, c.stack.size() + 1 == k ? extra : std::string());
  }
}

void ChromeSink::switch_to(uint32_t node, uint32_t cpu, int64_t tid, int64_t t) {
  Node &n = nodes_[node];
  Cpu &c = cpu_state(node, cpu);
  // Anything still open (syscalls, stray interrupt spans) ends with the task's slice. A syscall
  // cut short by the switch is still running: its task reopens it when it runs again.
  while (!c.stack.empty()) {
    const Span s = c.stack.back();
    c.stack.pop_back();
    close_span(node, cpu, s, t, "");
    if (s.kind == Kind::Syscall && s.tid > 0) n.in_syscall[s.tid] = s.id;
  }
  const auto run = n.runs.find(c.current_tid);
  if (run != n.runs.end() && run->second.cpu == cpu) run_ends(node, c.current_tid, t, "");
  c.current_tid = tid;
  if (tid > 0) {
    Span slice{Kind::Task, task_name(node, tid), t, tid, task_args(node, tid), -1};
    run_starts(node, cpu, tid, t, slice);
    push(node, cpu, std::move(slice));
    const auto it = n.in_syscall.find(tid);
    if (it != n.in_syscall.end())
      push(
          node, cpu,
          {Kind::Syscall, syscall_label(it->second) + " (cont.)", t, tid,
           "\"id\":" + std::to_string(it->second) + ",\"tid\":" + std::to_string(tid), it->second});
  }
}

const ChromeSink::ThreadTrack *ChromeSink::name_thread(uint32_t node, int64_t tid) {
  Node &n = nodes_[node];
  const PodName *pod = tid > 0 ? n.pods.pod_of(int32_t(tid)) : nullptr;
  if (!pod) return nullptr;
  // The pod's process on this node.
  const std::string key = pod->pod_uid.empty() ? pod->ns + "/" + pod->pod : pod->pod_uid;
  auto p = n.pod_pids.find(key);
  if (p == n.pod_pids.end()) {
    if (next_pod_ >= kPodPidBase) return nullptr;  // 2^30 pods: out of range, never reached
    const uint32_t pid = kPodPidBase + next_pod_++;
    p = n.pod_pids.emplace(key, pid).first;
    // Its metadata on tid = pid (Perfetto's main thread of the process; no slices go there).
    const std::string track = ids(pid, pid);
    std::string o = "{\"name\":\"process_name\",\"ph\":\"M\"" + track + ",\"args\":{\"name\":";
    json_string(o, pod->ns + "/" + pod->pod + " (" + node_names_[node] + ")");
    emit(o + "}}");
    if (!pod->pod_uid.empty()) {
      o = "{\"name\":\"process_labels\",\"ph\":\"M\"" + track + ",\"args\":{\"labels\":";
      json_string(o, "uid " + pod->pod_uid);
      emit(o + "}}");
    }
    emit("{\"name\":\"process_sort_index\",\"ph\":\"M\"" + track +
         ",\"args\":{\"sort_index\":" + std::to_string(nodes_.size() + (pid - kPodPidBase)) + "}}");
  }
  // The thread's track in that process.
  auto it = n.tracks.find({tid, p->second});
  if (it == n.tracks.end()) {
    if (next_thread_ >= kThreadTidBase) return nullptr;  // 2^31 threads: never reached
    const ThreadTrack tr{p->second, kThreadTidBase + next_thread_++, ""};
    it = n.tracks.emplace(std::make_pair(tid, p->second), tr).first;
    emit("{\"name\":\"thread_sort_index\",\"ph\":\"M\"" + ids(tr.pid, tr.tid) +
         ",\"args\":{\"sort_index\":" + std::to_string(tid) + "}}");
  }
  const auto comm = n.comm.find(tid);
  const std::string name = (comm == n.comm.end() ? "tid" : comm->second) + " " +
                           std::to_string(tid) +
                           (pod->container.empty() ? "" : " [" + pod->container + "]");
  if (name != it->second.name) {
    std::string o = "{\"name\":\"thread_name\",\"ph\":\"M\"" + ids(it->second.pid, it->second.tid) +
                    ",\"args\":{\"name\":";
    json_string(o, name);
    emit(o + "}}");
    it->second.name = name;
  }
  return &it->second;
}

// A pod thread's slice starts on a CPU: a copy goes on its own track when it ends.
void ChromeSink::run_starts(uint32_t node, uint32_t cpu, int64_t tid, int64_t t,
                            const Span &slice) {
  const ThreadTrack *tr = name_thread(node, tid);
  if (!tr) return;
  Node &n = nodes_[node];
  // Still running on another CPU (its switch away was lost): that copy ends here, so the
  // thread's own track never holds two slices at once.
  if (n.runs.count(tid)) run_ends(node, tid, t, "");
  n.runs[tid] =
      Run{cpu, tr->pid, tr->tid, t, slice.name, slice.args + ",\"cpu\":" + std::to_string(cpu)};
}

void ChromeSink::run_ends(uint32_t node, int64_t tid, int64_t t, const std::string &extra) {
  Node &n = nodes_[node];
  const auto it = n.runs.find(tid);
  if (it == n.runs.end()) return;
  const Run &r = it->second;
  std::string o = "{\"name\":";
  json_string(o, r.name);
  o += ",\"cat\":\"sched\",\"ph\":\"X\"" + ids(r.pid, r.tid);
  ts_field(o, "ts", base_, r.start);
  ts_field(o, "dur", r.start, t);
  o += ",\"args\":{" + r.args + (extra.empty() ? "" : "," + extra) + "}}";
  emit(o);
  thread_slices_++;
  n.runs.erase(it);
}

void ChromeSink::event(const MergedEvent &me) {
  if (!have_base_) {
    base_ = me.time_ns;
    have_base_ = true;
  }
  const RawEvent &ev = *me.ev;
  const uint32_t node = me.node, cpu = ev.cpu;
  const int64_t t = me.time_ns;
  Node &n = nodes_[node];
  Cpu &c = cpu_state(node, cpu);
  c.last = t;
  std::vector<Value> &v = values_;
  decode_fields_into(*ev.desc, ev.payload, ev.size, v);
  const bool pods = n.pods.active();
  if (pods)  // threads named before the window: their tracks at the node's first event in it
    for (const auto &named : n.pods.take_pending()) name_thread(node, named.first.tid);
  ThreadCgroup tc;
  const PodName *pod = n.pods.written(ev, tc);
  int64_t named = -1;
  const bool names = learn_names(n, ev, v, named);
  if (pods) {
    if (named > 0) name_thread(node, named);
    if (pod && tc.tid != named) name_thread(node, tc.tid);
  }
  if (names &&
      (ev.desc->id == REWIND_EV_STATEDUMP_PROCESS || ev.desc->id == REWIND_EV_STATEDUMP_IRQ))
    return;
  switch (ev.desc->id) {
    case REWIND_EV_SCHED_SWITCH:
      switch_to(node, cpu, field_int(ev, v, "next_tid"), t);
      return;
    case REWIND_EV_SYS_ENTER: {
      const int64_t id = field_int(ev, v, "id");
      n.in_syscall.erase(c.current_tid);
      push(node, cpu,
           {Kind::Syscall, syscall_label(id), t, c.current_tid,
            "\"id\":" + std::to_string(id) + ",\"tid\":" + std::to_string(c.current_tid), id});
      return;
    }
    case REWIND_EV_SYS_EXIT:
    case REWIND_EV_SYS_EXIT_WIDE:
      pop_to(node, cpu, Kind::Syscall, t, "\"ret\":" + std::to_string(field_int(ev, v, "ret")));
      n.in_syscall.erase(c.current_tid);
      return;
    case REWIND_EV_IRQ_HANDLER_ENTRY: {
      const uint32_t irq = uint32_t(field_int(ev, v, "irq"));
      const auto it = n.irq_names.find(irq);
      push(node, cpu,
           {Kind::Irq,
            "irq " + std::to_string(irq) + (it == n.irq_names.end() ? "" : " " + it->second), t,
            c.current_tid, "\"irq\":" + std::to_string(irq), -1});
      return;
    }
    case REWIND_EV_IRQ_HANDLER_EXIT:
      pop_to(node, cpu, Kind::Irq, t, "\"ret\":" + std::to_string(field_int(ev, v, "ret")));
      return;
    case REWIND_EV_SOFTIRQ_ENTRY: {
      const int64_t vec = field_int(ev, v, "vec");
      const char *known = softirq_name(vec);
      const std::string name = known ? known : std::to_string(vec);
      push(node, cpu,
           {Kind::Softirq, "softirq " + name, t, c.current_tid, "\"vec\":" + std::to_string(vec),
            -1});
      return;
    }
    case REWIND_EV_SOFTIRQ_EXIT:
      pop_to(node, cpu, Kind::Softirq, t, "");
      return;
    case REWIND_EV_STATEDUMP_CPU: {
      // Who runs on that CPU at the snapshot's start: open its slice if none is open yet.
      const uint32_t other = uint32_t(field_int(ev, v, "cpu"));
      Cpu &oc = cpu_state(node, other);
      if (oc.current_tid == -1 && oc.stack.empty())
        switch_to(node, other, field_int(ev, v, "current_tid"), t);
      return;
    }
    case REWIND_EV_STATEDUMP_START:
    case REWIND_EV_STATEDUMP_END:
      return;
    default:
      break;
  }
  std::string &o = line_;
  o.assign("{\"name\":");
  json_string(o, ev.desc->name);
  o += ",\"cat\":\"event\",\"ph\":\"i\",\"s\":\"t\",\"pid\":";
  o += std::to_string(node + 1);
  o += ",\"tid\":";
  o += std::to_string(cpu_tid(cpu));
  ts_field(o, "ts", base_, t);
  o += ",\"args\":{";
  fields_json(o, ev, v);
  o += "}}";
  emit(o);
  instants_++;
}

bool ChromeSink::learn_names(Node &n, const RawEvent &ev, const std::vector<Value> &v,
                             int64_t &tid) {
  const GivenName given = name_given(ev, v);
  switch (given.kind) {
    case GivenName::Kind::Thread:
      tid = given.id;
      n.comm[tid] = given.name;
      return true;
    case GivenName::Kind::Irq:
      n.irq_names[uint32_t(given.id)] = given.name;
      return true;
    default:
      return false;
  }
}

// Before the window: nothing is drawn, but the names and pods it gives hold inside it.
void ChromeSink::skipped(const MergedEvent &me) {
  const RawEvent &ev = *me.ev;
  Node &n = nodes_[me.node];
  switch (ev.desc->id) {
    case REWIND_EV_STATEDUMP_PROCESS:
    case REWIND_EV_SCHED_PROCESS_EXEC:
    case REWIND_EV_TASK_RENAME:
    case REWIND_EV_SCHED_PROCESS_FORK:
    case REWIND_EV_STATEDUMP_IRQ:
    case REWIND_EV_SCHED_PROCESS_CGROUP:
      break;
    default:
      return;
  }
  decode_fields_into(*ev.desc, ev.payload, ev.size, values_);
  int64_t tid = -1;
  learn_names(n, ev, values_, tid);
  n.pods.skipped(ev);
}

void ChromeSink::end() {
  for (size_t node = 0; node < nodes_.size(); node++) {
    // Pod threads still running, by tid (an order that does not depend on hashing).
    std::vector<int64_t> running;
    for (const auto &kv : nodes_[node].runs) running.push_back(kv.first);
    std::sort(running.begin(), running.end());
    for (const int64_t tid : running) {
      const Run &r = nodes_[node].runs.at(tid);
      run_ends(uint32_t(node), tid, std::max(nodes_[node].cpus[r.cpu].last, r.start),
               "\"unfinished\":true");
    }
  }
  for (size_t node = 0; node < nodes_.size(); node++)
    for (auto &kv : nodes_[node].cpus) {
      Cpu &c = kv.second;
      while (!c.stack.empty()) {
        const Span s = c.stack.back();
        c.stack.pop_back();
        close_span(uint32_t(node), kv.first, s, std::max(c.last, s.start), "\"unfinished\":true");
      }
    }
  // What "ts" counts from; a relative JSON without events has no first event to name.
  std::string other =
      relative_time_ ? "\"rewind_time\":\"since_first_event\"" : "\"rewind_time\":\"unix_epoch\"";
  if (relative_time_ && have_base_)
    other += ",\"rewind_first_event_unix_ns\":\"" + std::to_string(base_) + "\"";
  std::fputs(("\n],\"otherData\":{" + other + "}}\n").c_str(), f_);
  FILE *f = f_;
  f_ = nullptr;
  if (std::ferror(f) | std::fclose(f))
    throw SysError(errno ? errno : EIO, "write", path_, "cannot write " + path_);
}

}  // namespace rwd
