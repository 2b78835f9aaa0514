// Writes the fuzz target's seed corpus: real streams (every event type, both header forms,
// several packets) and the metadata, each prefixed with the target's mode byte.
#include <rewind/format.h>

#include <string>

#include "core/trace_dir.h"
#include "core/writer.h"
#include "fuzz_seed.h"

using namespace rwd;

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  const std::string dir = argv[1], corpus = argv[2];
  WriterOptions o;
  o.meta = rwd_fuzz::seed_meta();
  o.packet_size = 192;
  {
    TraceWriter w(dir, o);
    uint64_t ts = 1000;
    for (int round = 0; round < 2; round++)
      for (const EventDesc &d : event_table()) {
        if (!d.valid()) continue;
        std::vector<Value> v;
        for (const FieldDesc &f : d.fields)
          v.push_back(f.size == 0                        ? Value{0, "comm-" + std::to_string(d.id)}
                      : field_type_info(f.type).is_bytes ? Value{0, std::string(f.size, '\x07')}
                                                         : Value{d.id, {}});
        w.event(0, d.id, ts, v);
        ts += round ? (1ull << 27) + 3 : 1000;
      }
  }
  make_dirs(corpus);
  const std::string stream = read_file(dir + "/stream_0", 1 << 20);
  const std::string meta = read_file(dir + "/metadata", 1 << 20);
  write_file(corpus + "/seed-lenient", std::string(1, '\0') + stream);
  write_file(corpus + "/seed-strict", std::string(1, '\1') + stream);
  write_file(corpus + "/seed-first-packet", std::string(1, '\0') + stream.substr(0, 192));
  write_file(corpus + "/seed-metadata", std::string(1, '\2') + meta);
  return 0;
}
