// Output (a) of the merge: a unified trace directory. One CTF trace per node side by side
// (OUT/<node>/metadata + one stream file per CPU), each with env.hostname = the node's name and its
// clock offset corrected onto the common Unix-epoch timeline (absolute = true), so
// `babeltrace2 OUT` reads all nodes as one time-ordered stream. Packets are re-emitted from the
// validated input: same boundaries, sequence numbers and loss counters; damaged ones are dropped.
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
  void end() override;
  bool takes_packets() const override { return true; }
  void packet_bytes(uint32_t node, uint32_t stream, const PacketInfo &p,
                    const uint8_t *content) override;
  uint64_t bytes_written() const { return bytes_; }

 private:
  struct Out {
    std::unique_ptr<StreamWriter> w;
    uint64_t ts_end = 0;
    bool open = false;
  };
  std::string out_;
  std::vector<Out> streams_;
  std::vector<Uuid> uuids_;  // per node
  uint64_t bytes_ = 0;
};

// A directory name for a node name: [A-Za-z0-9._-], others replaced by '_'.
std::string safe_name(const std::string &name);

}  // namespace rwd
