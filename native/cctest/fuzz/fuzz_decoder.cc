// libFuzzer target: the decoder, the metadata parser and the Chrome exporter on hostile bytes.
// Input: one mode byte, then the bytes. Mode bit 1 set: the bytes are metadata text. Otherwise
// they are a stream file of the seed trace (uuid below), decoded strict (bit 0) or lenient, every
// event's fields decoded and fed to the Chrome exporter. Any crash, sanitizer report, leak or
// timeout is a failure; a DecodeError is the expected answer to damage.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/chrome_sink.h"
#include "core/metadata.h"
#include "core/stream_decoder.h"
#include "fuzz_seed.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  data++;
  size--;
  if (mode & 2) {
    try {
      rwd::parse_metadata("fuzz-metadata",
                          std::string_view(reinterpret_cast<const char *>(data), size));
    } catch (const rwd::DecodeError &) {
    }
    return 0;
  }
  const rwd::Uuid uuid = rwd_fuzz::seed_meta().uuid;
  rwd::StreamDecoder d("fuzz-stream", data, size, uuid, mode & 1);
  rwd::ChromeSink chrome("/dev/null");
  rwd::NodeInfo node;
  node.name = "fuzz";
  chrome.begin({node}, {});
  try {
    rwd::RawEvent e;
    uint64_t n = 0;
    while (d.next_event(e)) {
      (void)rwd::decode_fields(*e.desc, e.payload, e.size);
      chrome.event({0, 0, int64_t(e.ts & 0x3fffffffffffffffull), &e});
      if (++n > (1u << 20)) __builtin_trap();  // more events than bytes: a loop
    }
  } catch (const rwd::DecodeError &) {
  }
  chrome.end();
  return 0;
}
