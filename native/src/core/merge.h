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
#include "core/pod_names.h"
#include "core/stream_decoder.h"

namespace rwd {

// A node's identity in a merge. The unified trace carries the node's full name (env.hostname of
// its CTF trace and its directory), even where the module could hold only 63 bytes of it: the
// input's node name when given, else the trace's env.hostname, else the directory's name. It must
// satisfy valid_node_name (it goes into TSDL text and a directory name), and two inputs with the
// same name are an error naming both: nothing is renamed silently.
inline constexpr size_t kMaxNodeName = 253;  // a Kubernetes node name (DNS-1123 subdomain)
inline constexpr const char *kNodeNameRule =
    "a node name is 1 to 253 bytes of letters, digits, '.', '-' and '_', beginning and ending "
    "with a letter or digit";
bool valid_node_name(const std::string &name);

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
  // The pods of this node's cgroups (MergeOptions::pod_names), or null.
  std::shared_ptr<const PodNameTable> pod_names;
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
  // An event before the window's start, read but not merged (sinks that follow state across
  // the window's edge, such as which pod a thread is in, look at it; the others ignore it).
  virtual void skipped(const MergedEvent & /*e*/) {}
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
  // Clock corrections by node name (the name the node gets in this merge), for inputs whose name
  // is known only once their metadata is read (a trace's env.hostname, a directory of traces). A
  // name no input has is an error; so is a node corrected both here and by its input.
  std::map<std::string, int64_t> correction_by_node;
  // Pods by cgroup id, by node name (as for correction_by_node; an unknown name is an error). A
  // node with names is merged event by event (never packet by packet) so the outputs can name
  // its threads (core/pod_names.h).
  PodNamesByNode pod_names;
};

struct NodeSummary {
  std::vector<uint64_t> by_id;  // events per event id
  uint64_t events = 0;
  uint64_t pod_events = 0;  // process_pod events the CTF output added (not in `events`)
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

// Opens the inputs (throws SysError, DecodeError with file and offset, std::invalid_argument for a
// node name that is unusable or taken twice) and runs the merge into the sinks. The result holds
// the facts (per node, per stream, damage); sums and names for people are the front's.
MergeResult merge_traces(const std::vector<MergeInput> &inputs,
                         const std::vector<MergeSink *> &sinks, const MergeOptions &opts);

// a + b for a clock origin and a clock value, saturated to int64.
int64_t add_time(int64_t origin, uint64_t ts);

}  // namespace rwd
