#include "core/chrome_sink.h"

#include <rewind/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/json.h"
#include "core/sys_error.h"

namespace rwd {

namespace {

const char *const kSoftirqNames[] = {"HI",       "TIMER",   "NET_TX", "NET_RX",  "BLOCK",
                                     "IRQ_POLL", "TASKLET", "SCHED",  "HRTIMER", "RCU"};

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

int64_t field_int(const RawEvent &ev, const std::vector<Value> &v, const char *name) {
  for (size_t i = 0; i < ev.desc->fields.size(); i++)
    if (ev.desc->fields[i].name == name) return int64_t(v[i].num);
  return -1;
}

std::string field_str(const RawEvent &ev, const std::vector<Value> &v, const char *name) {
  for (size_t i = 0; i < ev.desc->fields.size(); i++)
    if (ev.desc->fields[i].name == name) return v[i].bytes;
  return {};
}

}  // namespace

ChromeSink::ChromeSink(std::string path) : path_(std::move(path)) {
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

// Microseconds (the format's unit) since the first event, with nanosecond digits.
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
  return comm + " " + std::to_string(tid);
}

// A CPU's state; its track is named when first seen.
ChromeSink::Cpu &ChromeSink::cpu_state(uint32_t node, uint32_t cpu) {
  auto it = nodes_[node].cpus.find(cpu);
  if (it != nodes_[node].cpus.end()) return it->second;
  const std::string ids =
      ",\"pid\":" + std::to_string(node + 1) + ",\"tid\":" + std::to_string(cpu);
  emit("{\"name\":\"thread_name\",\"ph\":\"M\"" + ids + ",\"args\":{\"name\":\"CPU " +
       std::to_string(cpu) + "\"}}");
  emit("{\"name\":\"thread_sort_index\",\"ph\":\"M\"" + ids +
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
  o += "\",\"ph\":\"X\",\"pid\":" + std::to_string(node + 1) + ",\"tid\":" + std::to_string(cpu);
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
    if (s.kind == Kind::Syscall && s.tid > 0) n.in_syscall[s.tid] = 1;
  }
  c.current_tid = tid;
  if (tid > 0) {
    push(node, cpu, {Kind::Task, task_name(node, tid), t, tid, "\"tid\":" + std::to_string(tid)});
    const auto it = n.in_syscall.find(tid);
    if (it != n.in_syscall.end())
      push(node, cpu, {Kind::Syscall, "syscall (cont.)", t, tid, "\"tid\":" + std::to_string(tid)});
  }
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
  switch (ev.desc->id) {
    case REWIND_EV_SCHED_SWITCH:
      switch_to(node, cpu, field_int(ev, v, "next_tid"), t);
      return;
    case REWIND_EV_SYS_ENTER: {
      const int64_t id = field_int(ev, v, "id");
      n.in_syscall.erase(c.current_tid);
      push(node, cpu,
           {Kind::Syscall, "syscall " + std::to_string(id), t, c.current_tid,
            "\"id\":" + std::to_string(id) + ",\"tid\":" + std::to_string(c.current_tid)});
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
            c.current_tid, "\"irq\":" + std::to_string(irq)});
      return;
    }
    case REWIND_EV_IRQ_HANDLER_EXIT:
      pop_to(node, cpu, Kind::Irq, t, "\"ret\":" + std::to_string(field_int(ev, v, "ret")));
      return;
    case REWIND_EV_SOFTIRQ_ENTRY: {
      const int64_t vec = field_int(ev, v, "vec");
      const std::string name = vec >= 0 && vec < 10 ? kSoftirqNames[vec] : std::to_string(vec);
      push(node, cpu,
           {Kind::Softirq, "softirq " + name, t, c.current_tid, "\"vec\":" + std::to_string(vec)});
      return;
    }
    case REWIND_EV_SOFTIRQ_EXIT:
      pop_to(node, cpu, Kind::Softirq, t, "");
      return;
    case REWIND_EV_STATEDUMP_PROCESS:
      n.comm[field_int(ev, v, "tid")] = field_str(ev, v, "comm");
      return;
    case REWIND_EV_STATEDUMP_IRQ:
      n.irq_names[uint32_t(field_int(ev, v, "irq"))] = field_str(ev, v, "name");
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
    case REWIND_EV_SCHED_PROCESS_FORK:
      n.comm[field_int(ev, v, "child_tid")] = field_str(ev, v, "child_comm");
      break;
    case REWIND_EV_SCHED_PROCESS_EXEC:
    case REWIND_EV_TASK_RENAME:
      n.comm[field_int(ev, v, "tid")] = field_str(ev, v, "comm");
      break;
    default:
      break;
  }
  std::string &o = line_;
  o.assign("{\"name\":");
  json_string(o, ev.desc->name);
  o += ",\"cat\":\"event\",\"ph\":\"i\",\"s\":\"t\",\"pid\":";
  o += std::to_string(node + 1);
  o += ",\"tid\":";
  o += std::to_string(cpu);
  ts_field(o, "ts", base_, t);
  o += ",\"args\":{";
  fields_json(o, ev, v);
  o += "}}";
  emit(o);
  instants_++;
}

void ChromeSink::end() {
  for (size_t node = 0; node < nodes_.size(); node++)
    for (auto &kv : nodes_[node].cpus) {
      Cpu &c = kv.second;
      while (!c.stack.empty()) {
        const Span s = c.stack.back();
        c.stack.pop_back();
        close_span(uint32_t(node), kv.first, s, std::max(c.last, s.start), "\"unfinished\":true");
      }
    }
  std::fputs("\n]}\n", f_);
  FILE *f = f_;
  f_ = nullptr;
  if (std::ferror(f) | std::fclose(f))
    throw SysError(errno ? errno : EIO, "write", path_, "cannot write " + path_);
}

}  // namespace rwd
