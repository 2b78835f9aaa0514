#include "core/ctf_sink.h"

#include <rewind/format.h>

#include <algorithm>

namespace rwd {

std::string safe_name(const std::string &name) {
  std::string s;
  for (char c : name)
    s += (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  if (s.empty() || s == "." || s == "..") s = "node" + s;
  return s;
}

void CtfSink::begin(const std::vector<NodeInfo> &nodes, const std::vector<StreamInfo> &streams) {
  make_dirs(out_);
  std::vector<std::string> dirs;
  std::vector<Uuid> used;
  for (const NodeInfo &n : nodes) {
    pods_.emplace_back(n.pod_names);
    pod_events_.push_back(0);
    naming_ |= pods_.back().active();
    TraceMeta m = n.meta;
    // babeltrace2 joins traces that share a uuid into one: each node's output gets its own
    // (the input's, unless an earlier node has it; then a variant derived from the node index).
    for (uint8_t k = 1; std::find(used.begin(), used.end(), m.uuid) != used.end(); k++)
      m.uuid[15] ^= uint8_t(k * 0x9d), m.uuid[14] ^= uint8_t(used.size());
    used.push_back(m.uuid);
    uuids_.push_back(m.uuid);
    m.set_env("hostname", n.name);
    m.clock.set_offset_ns(n.origin_ns);
    m.clock.absolute = true;
    const std::string dir = out_ + "/" + safe_name(n.name);
    make_dirs(dir);
    write_file(dir + "/" REWIND_TRACE_METADATA, generate_metadata(m));
    dirs.push_back(dir);
  }
  for (const StreamInfo &s : streams) {
    const size_t slash = s.path.rfind('/');
    const std::string base = slash == std::string::npos ? s.path : s.path.substr(slash + 1);
    Out o;
    o.w = std::make_unique<StreamWriter>(dirs[s.node] + "/" + base, uuids_[s.node], 0, 0);
    streams_.push_back(std::move(o));
  }
}

void CtfSink::packet(uint32_t, uint32_t stream, const PacketInfo &p) {
  Out &o = streams_[stream];
  if (o.open) o.w->end_packet(o.ts_end);
  o.w->set_cpu(p.cpu);
  o.w->begin_packet(p.ts_begin, p.seq, p.discarded);
  o.ts_end = p.ts_end;
  o.open = true;
}

// A validated packet copied whole: only the uuid (if this node's output has another) and the
// packet_size (trimmed to the content, like a snapshot's) change.
void CtfSink::packet_bytes(uint32_t node, uint32_t stream, const PacketInfo &p,
                           const uint8_t *content) {
  streams_[stream].w->raw_packet(content, p.content_bytes, uuids_[node]);
}

void CtfSink::write_pod(const MergedEvent &e, const ThreadCgroup &t, const PodName &n) {
  const std::string p = process_pod_payload(t, n);
  streams_[e.stream].w->event(REWIND_EV_PROCESS_POD, e.ev->ts,
                              reinterpret_cast<const uint8_t *>(p.data()), p.size());
  pod_events_[e.node]++;
}

void CtfSink::event(const MergedEvent &e) {
  ThreadPods &pods = pods_[e.node];
  if (pods.active())
    for (const auto &named : pods.take_pending()) write_pod(e, named.first, *named.second);
  streams_[e.stream].w->event(e.ev->desc->id, e.ev->ts, e.ev->payload, e.ev->size);
  ThreadCgroup t;
  if (const PodName *n = pods.written(*e.ev, t)) write_pod(e, t, *n);
}

void CtfSink::skipped(const MergedEvent &e) { pods_[e.node].skipped(*e.ev); }

void CtfSink::end() {
  for (Out &o : streams_) {
    if (o.open) o.w->end_packet(o.ts_end);
    o.open = false;
    o.w->close();
    bytes_ += o.w->bytes_written();
  }
}

}  // namespace rwd
