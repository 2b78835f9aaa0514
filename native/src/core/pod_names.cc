#include "core/pod_names.h"

#include <rewind/format.h>

#include "core/writer.h"

namespace rwd {

std::string pod_label(const PodName &n) {
  return n.ns + "/" + n.pod + (n.container.empty() ? "" : "/" + n.container);
}

bool naming_event(const RawEvent &ev, ThreadCgroup &out) {
  if (ev.desc->id != REWIND_EV_SCHED_PROCESS_CGROUP && ev.desc->id != REWIND_EV_STATEDUMP_PROCESS)
    return false;
  // Fields by name from the table (statedump_process has a string before cgroup_id).
  static thread_local std::vector<Value> v;
  decode_fields_into(*ev.desc, ev.payload, ev.size, v);
  const std::vector<FieldDesc> &f = ev.desc->fields;
  int found = 0;
  for (size_t i = 0; i < f.size() && i < v.size(); i++) {
    if (f[i].name == "tid") out.tid = int32_t(v[i].num), found |= 1;
    if (f[i].name == "pid") out.pid = int32_t(v[i].num), found |= 2;
    if (f[i].name == "cgroup_id") out.cgroup_id = v[i].num, found |= 4;
  }
  return found == 7;
}

std::string process_pod_payload(const ThreadCgroup &t, const PodName &n) {
  std::vector<Value> v(7);
  v[0].num = uint64_t(int64_t(t.tid));
  v[1].num = uint64_t(int64_t(t.pid));
  v[2].num = t.cgroup_id;
  v[3].bytes = n.ns;
  v[4].bytes = n.pod;
  v[5].bytes = n.container;
  v[6].bytes = n.pod_uid;
  return encode_fields(*find_event(REWIND_EV_PROCESS_POD), v);
}

const PodName *ThreadPods::lookup(uint64_t cgroup) const {
  if (!table_) return nullptr;
  const auto it = table_->find(cgroup);
  return it == table_->end() ? nullptr : &it->second;
}

const PodName *ThreadPods::written(const RawEvent &ev, ThreadCgroup &t) {
  if (!active() || !naming_event(ev, t)) return nullptr;
  const PodName *n = lookup(t.cgroup_id);
  by_tid_[t.tid] = n;
  pending_.erase(t.tid);  // a later naming supersedes one from before the window
  return n;
}

void ThreadPods::skipped(const RawEvent &ev) {
  ThreadCgroup t;
  if (!active() || !naming_event(ev, t)) return;
  by_tid_[t.tid] = lookup(t.cgroup_id);
  pending_[t.tid] = t;
}

std::vector<std::pair<ThreadCgroup, const PodName *>> ThreadPods::take_pending() {
  std::vector<std::pair<ThreadCgroup, const PodName *>> out;
  if (pending_taken_) return out;
  pending_taken_ = true;
  for (const auto &kv : pending_)
    if (const PodName *n = lookup(kv.second.cgroup_id)) out.emplace_back(kv.second, n);
  pending_.clear();
  return out;
}

const PodName *ThreadPods::pod_of(int32_t tid) const {
  const auto it = by_tid_.find(tid);
  return it == by_tid_.end() ? nullptr : it->second;
}

}  // namespace rwd
