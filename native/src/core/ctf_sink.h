// Output (a) of the merge: a unified trace directory. One CTF trace per node side by side
// (OUT/<node>/metadata + one stream file per CPU), each with env.hostname = the node's name and its
// clock offset corrected onto the common Unix-epoch timeline (absolute = true), so
// `babeltrace2 OUT` reads all nodes as one time-ordered stream. Packets are re-emitted from the
// validated input: same boundaries, sequence numbers and loss counters; damaged ones are dropped.
// For a node with pod names (NodeInfo::pod_names), a process_pod event follows every naming event
// whose cgroup is named, in the same stream at the same time, and threads named before the
// window's start get theirs at the node's first event written (core/pod_names.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/merge.h"
#include "core/writer.h"

namespace rwd {

class CtfSink : public MergeSink {
 public:
  explicit CtfSink(std::string out_dir) : out_(std::move(out_dir)) {}
  void begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &streams) override;
  void packet(uint32_t node, uint32_t stream, const PacketInfo &p) override;
  void event(const MergedEvent &e) override;
  void skipped(const MergedEvent &e) override;
  void end() override;
  // Whole packets only when no node's threads are named (naming adds events to packets).
  bool takes_packets() const override { return !naming_; }
  void packet_bytes(uint32_t node, uint32_t stream, const PacketInfo &p,
                    const uint8_t *content) override;
  uint64_t bytes_written() const { return bytes_; }
  // process_pod events written, per node.
  const std::vector<uint64_t> &pod_events() const { return pod_events_; }

 private:
  struct Out {
    std::unique_ptr<StreamWriter> w;
    uint64_t ts_end = 0;
    bool open = false;
  };
  std::string out_;
  std::vector<Out> streams_;
  void write_pod(const MergedEvent &e, const ThreadCgroup &t, const PodName &n);
  std::vector<Uuid> uuids_;           // per node
  std::vector<ThreadPods> pods_;      // per node
  std::vector<uint64_t> pod_events_;  // per node
  bool naming_ = false;
  uint64_t bytes_ = 0;
};

// A directory name for a node name: [A-Za-z0-9._-], others replaced by '_'.
std::string safe_name(const std::string &name);

}  // namespace rwd
