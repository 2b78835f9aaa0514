#include "core/merge.h"

#include <algorithm>
#include <cctype>
#include <queue>
#include <stdexcept>

#include "core/event_table.h"
#include "core/trace_dir.h"

namespace rwd {

std::map<std::string, uint64_t> NodeSummary::by_type() const {
  std::map<std::string, uint64_t> m;
  for (size_t id = 0; id < by_id.size(); id++)
    if (by_id[id]) m[event_table()[id].name] = by_id[id];
  return m;
}

int64_t add_time(int64_t origin, uint64_t ts) {
  if (ts > uint64_t(INT64_MAX)) return INT64_MAX;
  int64_t r;
  if (__builtin_add_overflow(origin, int64_t(ts), &r)) return origin < 0 ? INT64_MIN : INT64_MAX;
  return r;
}

namespace {

struct Cursor {
  uint32_t node;
  uint32_t stream;
  StreamDecoder dec;
  StreamDecoder::Item item = StreamDecoder::Item::End;
  int64_t key = 0;
};

std::string base_name(const std::string &path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

bool is_alnum(char c) { return isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

bool valid_node_name(const std::string &name) {
  if (name.empty() || name.size() > kMaxNodeName) return false;
  if (!is_alnum(name.front()) || !is_alnum(name.back())) return false;
  for (char c : name)
    if (!is_alnum(c) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

MergeResult merge_traces(const std::vector<MergeInput> &inputs,
                         const std::vector<MergeSink *> &sinks, const MergeOptions &opts) {
  MergeResult r;
  std::vector<std::unique_ptr<Trace>> traces;
  for (const MergeInput &in : inputs) {
    const std::vector<std::string> dirs = find_traces(in.dir);
    if (dirs.empty()) throw std::runtime_error(in.dir + ": no Rewind trace (no metadata file)");
    if (!in.node.empty() && dirs.size() > 1)
      throw std::runtime_error(in.dir + ": holds " + std::to_string(dirs.size()) +
                               " traces; a node name applies to one");
    for (const std::string &dir : dirs) {
      traces.push_back(Trace::open(dir, opts.strict));
      const Trace &t = *traces.back();
      r.damage.insert(r.damage.end(), t.damage().begin(), t.damage().end());
      // The same trace twice (a copy, a link, a directory and its parent) would double every
      // event: refused, naming both.
      for (size_t k = 0; k < r.nodes.size(); k++)
        if (r.nodes[k].meta.uuid == t.meta().uuid)
          throw std::invalid_argument("the same trace twice (trace uuid " +
                                      uuid_to_string(t.meta().uuid) + "): " + r.nodes[k].dir +
                                      " and " + dir);
      NodeInfo n;
      n.dir = dir;
      n.meta = t.meta();
      n.name = !in.node.empty() ? in.node : t.meta().hostname();
      if (n.name.empty()) n.name = base_name(dir);
      if (!valid_node_name(n.name))
        throw std::invalid_argument(
            dir + ": node name \"" + n.name + "\" is not usable: " + kNodeNameRule +
            (in.node.empty() ? " (it comes from the trace; give the input a node name)" : ""));
      for (const NodeInfo &other : r.nodes)
        if (other.name == n.name)
          throw std::invalid_argument("two inputs are node \"" + n.name + "\": " + other.dir +
                                      " and " + dir + " (give one of them another node name)");
      n.correction_ns = in.correction_ns;
      const auto by_name = opts.correction_by_node.find(n.name);
      if (by_name != opts.correction_by_node.end()) {
        if (in.correction_ns != 0)
          throw std::invalid_argument(dir + ": node \"" + n.name +
                                      "\" has two clock corrections (by input and by node name)");
        n.correction_ns = by_name->second;
      }
      if (__builtin_add_overflow(t.meta().clock.offset_ns(), n.correction_ns, &n.origin_ns))
        throw std::runtime_error(dir + ": clock offset plus correction overflows");
      r.nodes.push_back(std::move(n));
    }
  }
  auto unknown_node = [&](const std::string &what, const std::string &name) {
    std::string names;
    for (const NodeInfo &n : r.nodes) names += (names.empty() ? "" : ", ") + n.name;
    return std::invalid_argument(what + " names node \"" + name +
                                 "\", which no input is (nodes: " + names + ")");
  };
  for (const auto &kv : opts.correction_by_node) {
    if (std::none_of(r.nodes.begin(), r.nodes.end(),
                     [&](const NodeInfo &n) { return n.name == kv.first; }))
      throw unknown_node("a clock correction", kv.first);
  }
  for (const auto &kv : opts.pod_names) {
    const auto n = std::find_if(r.nodes.begin(), r.nodes.end(),
                                [&](const NodeInfo &n) { return n.name == kv.first; });
    if (n == r.nodes.end()) throw unknown_node("a pod names table", kv.first);
    if (!kv.second.empty()) n->pod_names = std::make_shared<const PodNameTable>(kv.second);
  }
  std::vector<std::unique_ptr<Cursor>> cursors;
  for (uint32_t ni = 0; ni < traces.size(); ni++) {
    for (size_t s = 0; s < traces[ni]->stream_count(); s++) {
      r.streams.push_back({ni, traces[ni]->stream_path(s), {}});
      cursors.push_back(std::unique_ptr<Cursor>(
          new Cursor{ni, uint32_t(r.streams.size() - 1), traces[ni]->decoder(s, opts.strict)}));
    }
  }
  r.per_node.resize(r.nodes.size());
  for (NodeSummary &ns : r.per_node) ns.by_id.assign(event_table().size(), 0);
  for (MergeSink *s : sinks) s->begin(r.nodes, r.streams);

  bool by_packet = opts.from_ns == INT64_MIN && opts.to_ns == INT64_MAX;
  for (MergeSink *s : sinks) by_packet &= s->takes_packets();
  if (by_packet) {
    // Stream after stream, whole validated packets; per-stream order is all the outputs need.
    bool first = true;
    for (auto &c : cursors) {
      NodeSummary &ns = r.per_node[c->node];
      const int64_t origin = r.nodes[c->node].origin_ns;
      for (;;) {
        const StreamDecoder::Item it = c->dec.next();
        if (it == StreamDecoder::Item::End) break;
        if (it != StreamDecoder::Item::Packet) continue;  // never: events are skipped below
        const PacketInfo &p = c->dec.packet();
        for (MergeSink *s : sinks) s->packet_bytes(c->node, c->stream, p, c->dec.packet_data());
        uint64_t lo = UINT64_MAX, hi = 0;
        const uint64_t before = c->dec.stats().events;
        c->dec.skip_packet_events(ns.by_id, lo, hi);
        const uint64_t n = c->dec.stats().events - before;
        if (!n) continue;
        ns.events += n;
        r.events += n;
        const int64_t a = add_time(origin, lo), b = add_time(origin, hi);
        r.first_ns = first ? a : std::min(r.first_ns, a);
        r.last_ns = first ? b : std::max(r.last_ns, b);
        first = false;
      }
      r.streams[c->stream].stats = c->dec.stats();
      r.damage.insert(r.damage.end(), c->dec.damage().begin(), c->dec.damage().end());
    }
    for (MergeSink *s : sinks) s->end();
    return r;
  }

  // Earliest key first; ties by node then stream, so the output is deterministic.
  auto later = [](const Cursor *a, const Cursor *b) {
    if (a->key != b->key) return a->key > b->key;
    if (a->node != b->node) return a->node > b->node;
    return a->stream > b->stream;
  };
  std::priority_queue<Cursor *, std::vector<Cursor *>, decltype(later)> heap(later);
  auto advance = [&](Cursor *c) {
    c->item = c->dec.next();
    const int64_t origin = r.nodes[c->node].origin_ns;
    if (c->item == StreamDecoder::Item::Packet) {
      c->key = add_time(origin, c->dec.packet().ts_begin);
    } else if (c->item == StreamDecoder::Item::Event) {
      c->key = add_time(origin, c->dec.event().ts);
    } else {
      r.streams[c->stream].stats = c->dec.stats();
      r.damage.insert(r.damage.end(), c->dec.damage().begin(), c->dec.damage().end());
      return;
    }
    heap.push(c);
  };
  for (auto &c : cursors) advance(c.get());
  bool first = true;
  while (!heap.empty()) {
    Cursor *c = heap.top();
    heap.pop();
    if (c->item == StreamDecoder::Item::Packet) {
      for (MergeSink *s : sinks) s->packet(c->node, c->stream, c->dec.packet());
    } else if (c->key < opts.from_ns) {
      const MergedEvent me{c->node, c->stream, c->key, &c->dec.event()};
      for (MergeSink *s : sinks) s->skipped(me);
    } else if (c->key <= opts.to_ns) {
      const RawEvent &ev = c->dec.event();
      const MergedEvent me{c->node, c->stream, c->key, &ev};
      for (MergeSink *s : sinks) s->event(me);
      NodeSummary &ns = r.per_node[c->node];
      ns.events++;
      ns.by_id[ev.desc->id]++;
      r.events++;
      if (first) r.first_ns = c->key;
      first = false;
      r.last_ns = c->key;
    }
    advance(c);
  }
  for (MergeSink *s : sinks) s->end();
  return r;
}

}  // namespace rwd
