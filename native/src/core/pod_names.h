// Pods named in the merge's outputs. The controller resolves each node's cgroup ids to Kubernetes
// pods (namespace, pod, container, uid) from the agents' cgroup facts and the API; the merge gets
// that table per node and follows, in each node's event order, which cgroup every thread is in
// (statedump_process and sched_process_cgroup carry tid, pid and cgroup_id). The CTF sink writes a
// process_pod event where a thread is named; the Chrome sink puts the pod in the task's name and
// gives each pod thread a track of its own under a process per pod (chrome_sink.h).
//
// Naming events before the window's start are not written, yet they name threads that run inside
// it: the merge hands them to the sinks as skipped events, and ThreadPods keeps the latest cgroup
// of each thread until the first event written for the node (take_pending).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/stream_decoder.h"

namespace rwd {

struct PodName {
  std::string ns;  // namespace
  std::string pod;
  std::string container;  // "" for a pod-level cgroup
  std::string pod_uid;
  bool operator==(const PodName &o) const {
    return ns == o.ns && pod == o.pod && container == o.container && pod_uid == o.pod_uid;
  }
};

// One node's table: cgroup id -> pod.
using PodNameTable = std::unordered_map<uint64_t, PodName>;
// Tables by node name (the name the node gets in the merge).
using PodNamesByNode = std::map<std::string, PodNameTable>;

// "namespace/pod/container", or "namespace/pod" for a pod-level cgroup.
std::string pod_label(const PodName &n);

// A thread put in a cgroup by a naming event.
struct ThreadCgroup {
  int32_t tid = 0;
  int32_t pid = 0;
  uint64_t cgroup_id = 0;
};

// The tid, pid and cgroup_id of a statedump_process or sched_process_cgroup event; false for any
// other event.
bool naming_event(const RawEvent &ev, ThreadCgroup &out);

// The payload of a process_pod event (laid out by format.h's table).
std::string process_pod_payload(const ThreadCgroup &t, const PodName &n);

// One node's threads and their pods, as its events go by in time order.
class ThreadPods {
 public:
  explicit ThreadPods(std::shared_ptr<const PodNameTable> table = nullptr)
      : table_(std::move(table)) {}
  bool active() const { return table_ && !table_->empty(); }

  // An event that is written: if it names a thread's cgroup and the table names that cgroup,
  // the pod (else nullptr). The thread's pod is updated either way.
  const PodName *written(const RawEvent &ev, ThreadCgroup &t);
  // An event skipped before the window: remembered for take_pending.
  void skipped(const RawEvent &ev);
  // Once, at the node's first written event: the threads whose latest naming event (skipped)
  // named a pod, by tid.
  std::vector<std::pair<ThreadCgroup, const PodName *>> take_pending();
  // The pod of a thread as last seen (written or skipped events), or nullptr.
  const PodName *pod_of(int32_t tid) const;

 private:
  const PodName *lookup(uint64_t cgroup) const;
  std::shared_ptr<const PodNameTable> table_;
  std::map<int32_t, ThreadCgroup> pending_;  // skipped namings not yet handed out
  std::unordered_map<int32_t, const PodName *> by_tid_;
  bool pending_taken_ = false;
};

}  // namespace rwd
