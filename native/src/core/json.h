// Minimal JSON text helpers for the exporters (output only; nothing here parses JSON).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rwd {

// A JSON string literal. Bytes outside printable ASCII are escaped as \u00XX (read as Latin-1),
// so any input (comm names are arbitrary bytes) gives valid JSON and valid UTF-8.
inline void json_string(std::string &out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += '"';
}

inline std::string json_string(std::string_view s) {
  std::string out;
  json_string(out, s);
  return out;
}

}  // namespace rwd
