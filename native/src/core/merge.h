// The streaming k-way merge: every stream (nodes x CPUs) is a cursor; a heap keyed by corrected
// Unix-epoch time hands events (and packet boundaries) to sinks in global time order. Memory is
// bounded by the number of streams: one validated packet's event index per stream, the input
// bytes stay in the page cache (mmap).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/metadata.h"
#include "core/stream_decoder.h"

namespace rwd {

struct MergeInput {
  std::string dir;            // a trace directory, or a directory of traces (one per node)
  std::string node;           // node name; "" = the trace's env.hostname
  int64_t correction_ns = 0;  // added to this node's clock offset (from clock alignment)
};

struct NodeInfo {
  std::string name;
  std::string dir;
  TraceMeta meta;
  int64_t correction_ns = 0;
  int64_t origin_ns = 0;  // Unix-epoch time of clock value 0, corrected
};

struct StreamInfo {
  uint32_t node;
  std::string path;
  StreamStats stats;  // filled as the merge goes
};

struct MergedEvent {
  uint32_t node;
  uint32_t stream;
  int64_t time_ns;  // Unix epoch, corrected
  const RawEvent *ev;
};

class MergeSink {
 public:
  virtual ~MergeSink() = default;
  virtual void begin(const std::vector<NodeInfo> &, const std::vector<StreamInfo> &) {}
  virtual void packet(uint32_t /*node*/, uint32_t /*stream*/, const PacketInfo &) {}
  virtual void event(const MergedEvent &e) = 0;
  virtual void end() {}
  // A sink that can take whole validated packets (packet_bytes) instead of events one by one.
  // When every sink can and no time window is set, the merge skips the per-event k-way heap:
  // the output does not depend on the global order (babeltrace2 muxes at read time).
  virtual bool takes_packets() const { return false; }
  virtual void packet_bytes(uint32_t /*node*/, uint32_t /*stream*/, const PacketInfo &,
                            const uint8_t * /*content*/) {}
};

struct MergeOptions {
  bool strict = false;          // the first damage is an error (validate); else skipped and counted
  int64_t from_ns = INT64_MIN;  // keep events in [from_ns, to_ns] (Unix epoch, corrected)
  int64_t to_ns = INT64_MAX;
};

struct NodeSummary {
  std::vector<uint64_t> by_id;  // events per event id
  uint64_t events = 0;
  // Events by type name (types with none left out).
  std::map<std::string, uint64_t> by_type() const;
};

struct MergeResult {
  std::vector<NodeInfo> nodes;
  std::vector<StreamInfo> streams;
  std::vector<NodeSummary> per_node;
  std::vector<Damage> damage;
  uint64_t events = 0;
  int64_t first_ns = 0, last_ns = 0;  // of the events merged
};

// Opens the inputs (throws std::runtime_error / DecodeError with file and offset) and runs the
// merge into the sinks.
MergeResult merge_traces(const std::vector<MergeInput> &inputs,
                         const std::vector<MergeSink *> &sinks, const MergeOptions &opts);

// The summary as JSON: nodes, events by type, per-CPU windows, lost events and packets, damage.
std::string summary_json(const MergeResult &r);

// a + b for a clock origin and a clock value, saturated to int64.
int64_t add_time(int64_t origin, uint64_t ts);

}  // namespace rwd
