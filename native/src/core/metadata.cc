#include "core/metadata.h"

#include <rewind/format.h>
#include <uapi/rewind.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "core/event_table.h"
#include "core/reader.h"

namespace rwd {

std::string uuid_to_string(const Uuid &u) {
  char s[37];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                u[13], u[14], u[15]);
  return s;
}

bool parse_uuid(std::string_view s, Uuid &out) {
  if (s.size() != 36) return false;
  size_t j = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i++] != '-') return false;
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i]), lo = hex(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[j++] = uint8_t(hi << 4 | lo);
    i += 2;
  }
  return true;
}

Uuid random_uuid() {
  Uuid u;
  std::random_device rd;
  for (auto &b : u) b = uint8_t(rd());
  u[6] = uint8_t((u[6] & 0x0f) | 0x40);
  u[8] = uint8_t((u[8] & 0x3f) | 0x80);
  return u;
}

void ClockDesc::set_offset_ns(int64_t ns) {
  int64_t s = ns / int64_t(kNsPerSecond);
  int64_t rem = ns % int64_t(kNsPerSecond);
  if (rem < 0) {
    rem += int64_t(kNsPerSecond);
    s -= 1;
  }
  offset_s = s;
  offset = uint64_t(rem);
}

std::string TraceMeta::hostname() const {
  for (const EnvEntry &e : env)
    if (e.key == "hostname") return e.value;
  return {};
}

void TraceMeta::set_env(const std::string &key, const std::string &value, bool is_string) {
  for (EnvEntry &e : env)
    if (e.key == key) {
      e.value = value;
      e.is_string = is_string;
      return;
    }
  env.push_back({key, value, is_string});
}

namespace {

std::string tsdl_quote(const std::string &s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // no control characters in TSDL
    q += c;
  }
  return q + "\"";
}

}  // namespace

TraceMeta default_meta(const std::string &hostname) {
  TraceMeta m;
  m.uuid = random_uuid();
  m.set_env("hostname", hostname);
  m.set_env("domain", "kernel");
  m.set_env("sysname", "Linux");
  m.set_env("tracer_name", "rewind");
  m.set_env("tracer_major", std::to_string(REWIND_ABI_VERSION), false);
  m.set_env("tracer_minor", "0", false);
  m.set_env("rewind_format", std::to_string(REWIND_FORMAT_VERSION), false);
  m.clock.uuid = uuid_to_string(random_uuid());
  return m;
}

std::string generate_metadata(const TraceMeta &m) {
  std::string s = "/* CTF 1.8 */\n\n";
  s += REWIND_TSDL_TYPEALIASES;
  s += "\ntrace {\n\tmajor = 1;\n\tminor = 8;\n\tuuid = \"" + uuid_to_string(m.uuid) +
       "\";\n\tbyte_order = le;\n\tpacket.header := struct {\n\t\tuint32_t magic;\n"
       "\t\tuint8_t uuid[16];\n\t\tuint32_t stream_id;\n\t};\n};\n\n";
  s += "env {\n";
  for (const EnvEntry &e : m.env)
    s += "\t" + e.key + " = " + (e.is_string ? tsdl_quote(e.value) : e.value) + ";\n";
  s += "};\n\n";
  const ClockDesc &c = m.clock;
  s += "clock {\n\tname = \"" + c.name + "\";\n";
  if (!c.uuid.empty()) s += "\tuuid = \"" + c.uuid + "\";\n";
  s += "\tdescription = " + tsdl_quote(c.description) + ";\n";
  s += "\tfreq = " + std::to_string(c.freq) + ";\n\tprecision = 1;\n";
  s += "\toffset_s = " + std::to_string(c.offset_s) + ";\n";
  s += "\toffset = " + std::to_string(c.offset) + ";\n";
  s += std::string("\tabsolute = ") + (c.absolute ? "true" : "false") + ";\n};\n\n";
  s += "typealias integer {\n\tsize = 27; align = 1; signed = false;\n\tmap = clock." + c.name +
       ".value;\n} := uint27_clock_monotonic_t;\n\n";
  s += "typealias integer {\n\tsize = 64; align = 8; signed = false;\n\tmap = clock." + c.name +
       ".value;\n} := uint64_clock_monotonic_t;\n\n";
  s += REWIND_TSDL_STREAM;
  s += REWIND_TSDL_EVENTS;
  return s;
}

// ---- Parsing ---------------------------------------------------------------------------------

namespace {

enum class Tok { Ident, Number, String, Punct, End };

struct Token {
  Tok kind;
  std::string text;  // identifier, decoded string, number literal, or punctuation
  size_t offset;
};

class Lexer {
 public:
  Lexer(const std::string &file, std::string_view s) : file_(file), s_(s) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      skip_space();
      if (i_ >= s_.size()) break;
      const size_t at = i_;
      const char c = s_[i_];
      if (isalpha(uc(c)) || c == '_') {
        while (i_ < s_.size() && (isalnum(uc(s_[i_])) || s_[i_] == '_')) i_++;
        out.push_back({Tok::Ident, std::string(s_.substr(at, i_ - at)), at});
      } else if (isdigit(uc(c)) || (c == '-' && i_ + 1 < s_.size() && isdigit(uc(s_[i_ + 1])))) {
        i_++;
        while (i_ < s_.size() && isalnum(uc(s_[i_]))) i_++;
        out.push_back({Tok::Number, std::string(s_.substr(at, i_ - at)), at});
      } else if (c == '"') {
        std::string v;
        for (i_++;; i_++) {
          if (i_ >= s_.size()) fail(at, "unterminated string");
          if (s_[i_] == '"') break;
          if (s_[i_] == '\\') {
            if (++i_ >= s_.size()) fail(at, "unterminated string");
          }
          v += s_[i_];
        }
        i_++;
        out.push_back({Tok::String, v, at});
      } else if (c == ':' && i_ + 1 < s_.size() && s_[i_ + 1] == '=') {
        i_ += 2;
        out.push_back({Tok::Punct, ":=", at});
      } else if (c == '.' && i_ + 2 < s_.size() && s_.substr(i_, 3) == "...") {
        i_ += 3;
        out.push_back({Tok::Punct, "...", at});
      } else if (std::string_view("{}[]();=:,<>.").find(c) != std::string_view::npos) {
        i_++;
        out.push_back({Tok::Punct, std::string(1, c), at});
      } else {
        fail(at, std::string("unexpected character '") +
                     (isprint(uc(c)) ? std::string(1, c) : std::string("?")) + "' in metadata");
      }
    }
    out.push_back({Tok::End, "", s_.size()});
    return out;
  }

 private:
  static unsigned char uc(char c) { return static_cast<unsigned char>(c); }
  [[noreturn]] void fail(size_t at, const std::string &what) { throw DecodeError(file_, at, what); }
  void skip_space() {
    while (i_ < s_.size()) {
      if (isspace(uc(s_[i_]))) {
        i_++;
      } else if (s_.substr(i_, 2) == "/*") {
        const size_t e = s_.find("*/", i_ + 2);
        if (e == std::string_view::npos) fail(i_, "unterminated comment");
        i_ = e + 2;
      } else if (s_.substr(i_, 2) == "//") {
        while (i_ < s_.size() && s_[i_] != '\n') i_++;
      } else {
        break;
      }
    }
  }
  const std::string &file_;
  std::string_view s_;
  size_t i_ = 0;
};

struct ParsedField {
  std::string type, name, suffix;
  size_t offset;
};

struct ParsedEvent {
  std::string name;
  int64_t id = -1;
  size_t offset = 0;
  std::vector<ParsedField> fields;
};

class Parser {
 public:
  Parser(const std::string &file, std::vector<Token> toks) : file_(file), t_(std::move(toks)) {}

  TraceMeta run() {
    TraceMeta m;
    bool have_trace = false, have_clock = false;
    std::vector<ParsedEvent> events;
    while (peek().kind != Tok::End) {
      const Token &k = peek();
      if (k.kind == Tok::Ident && peek(1).text == "{" &&
          (k.text == "trace" || k.text == "env" || k.text == "clock" || k.text == "event")) {
        const std::string block = next().text;
        next();  // {
        if (block == "trace") {
          have_trace = true;
          parse_pairs([&](const std::string &key, const Token &v) {
            if (key == "uuid") {
              if (v.kind != Tok::String || !parse_uuid(v.text, m.uuid))
                fail(v, "trace uuid is not a uuid");
            } else if (key == "byte_order" && v.text != "le") {
              fail(v, "byte order " + v.text + " is not Rewind's (le)");
            } else if (key == "major" && v.text != "1") {
              fail(v, "CTF major version " + v.text + " is not 1");
            }
          });
        } else if (block == "env") {
          parse_pairs([&](const std::string &key, const Token &v) {
            m.env.push_back({key, v.text, v.kind == Tok::String});
          });
        } else if (block == "clock") {
          have_clock = true;
          parse_pairs([&](const std::string &key, const Token &v) { clock_pair(m.clock, key, v); });
        } else {
          ParsedEvent e;
          e.offset = k.offset;
          parse_pairs(
              [&](const std::string &key, const Token &v) {
                if (key == "name") e.name = v.text;
                if (key == "id") e.id = integer(v);
              },
              &e.fields);
          events.push_back(std::move(e));
        }
        expect(";");
      } else {
        skip_statement();
      }
    }
    if (!have_trace) fail(peek(), "metadata has no trace block");
    if (!have_clock) fail(peek(), "metadata has no clock block");
    int64_t origin_ns;
    if (__builtin_mul_overflow(m.clock.offset_s, int64_t(kNsPerSecond), &origin_ns) ||
        __builtin_add_overflow(origin_ns, raw_offset_, &origin_ns))
      fail(peek(), "clock offset out of range");
    m.clock.set_offset_ns(origin_ns);
    check_events(events);
    return m;
  }

 private:
  const Token &peek(size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  const Token &next() {
    const Token &t = t_[i_];
    if (t.kind != Tok::End) i_++;
    return t;
  }
  [[noreturn]] void fail(const Token &t, const std::string &what) const {
    throw DecodeError(file_, t.offset, "metadata: " + what);
  }
  void expect(const char *p) {
    const Token &t = next();
    if (t.text != p || t.kind == Tok::String)
      fail(t, std::string("expected '") + p + "', found '" + t.text + "'");
  }
  int64_t integer(const Token &v) const {
    if (v.kind != Tok::Number) fail(v, "expected an integer, found '" + v.text + "'");
    try {
      size_t used = 0;
      const int64_t n = std::stoll(v.text, &used, 0);
      if (used != v.text.size()) throw std::invalid_argument("trailing");
      return n;
    } catch (const std::exception &) {
      fail(v, "bad integer '" + v.text + "'");
    }
  }
  // Skips one top-level statement: up to the ';' that closes it, over balanced braces.
  void skip_statement() {
    int depth = 0;
    for (;;) {
      const Token &t = next();
      if (t.kind == Tok::End) {
        if (depth) fail(t, "unbalanced braces");
        return;
      }
      if (t.kind != Tok::Punct) continue;
      if (t.text == "{") depth++;
      if (t.text == "}" && --depth < 0) fail(t, "unbalanced braces");
      if (t.text == ";" && depth == 0) return;
    }
  }
  // key = value; pairs up to the closing '}'. "key := struct { ... };" fills fields (events) or
  // is skipped. Dotted keys (packet.header) are joined.
  template <typename F>
  void parse_pairs(F on_pair, std::vector<ParsedField> *fields = nullptr) {
    while (peek().text != "}" || peek().kind == Tok::String) {
      const Token &k = next();
      if (k.kind != Tok::Ident) fail(k, "expected a name, found '" + k.text + "'");
      std::string key = k.text;
      while (peek().text == ".") {
        next();
        key += "." + next().text;
      }
      const Token &op = next();
      if (op.text == "=") {
        const Token &v = next();
        if (v.kind == Tok::Punct || v.kind == Tok::End) fail(v, "expected a value for " + key);
        on_pair(key, v);
        expect(";");
      } else if (op.text == ":=") {
        if (key == "fields" && fields && peek().text == "struct" && peek(1).text == "{") {
          next();
          next();
          parse_fields(*fields);
          expect(";");
        } else {
          skip_statement();
        }
      } else {
        fail(op, "expected '=' or ':=' after " + key);
      }
    }
    next();  // }
  }
  void parse_fields(std::vector<ParsedField> &out) {
    while (peek().text != "}") {
      ParsedField f;
      const Token &type = next();
      f.offset = type.offset;
      if (type.kind != Tok::Ident) fail(type, "expected a field type, found '" + type.text + "'");
      f.type = type.text;
      const Token &name = next();
      if (name.kind != Tok::Ident) fail(name, "expected a field name, found '" + name.text + "'");
      f.name = name.text;
      if (peek().text == "[") {
        next();
        f.suffix = "[" + std::to_string(integer(next())) + "]";
        expect("]");
      }
      expect(";");
      out.push_back(std::move(f));
    }
    next();  // }
  }
  void clock_pair(ClockDesc &c, const std::string &key, const Token &v) {
    if (key == "name") {
      c.name = v.text;
    } else if (key == "uuid") {
      Uuid u;
      if (v.kind != Tok::String || !parse_uuid(v.text, u)) fail(v, "clock uuid is not a uuid");
      c.uuid = v.text;
    } else if (key == "description") {
      c.description = v.text;
    } else if (key == "freq") {
      if (integer(v) != int64_t(kNsPerSecond))
        fail(v, "clock frequency " + v.text + " Hz: Rewind clocks count nanoseconds (1000000000)");
      c.freq = kNsPerSecond;
    } else if (key == "offset_s") {
      c.offset_s = integer(v);
    } else if (key == "offset") {
      raw_offset_ = integer(v);  // may be negative (the module truncates toward zero)
    } else if (key == "absolute") {
      c.absolute = v.text == "true" || v.text == "TRUE" || v.text == "1";
    }
  }
  // Every event of the metadata must be the event of this build's table with that id, field by
  // field; a trace from another format version is refused rather than misread.
  void check_events(const std::vector<ParsedEvent> &events) {
    size_t expected = 0;
    for (const EventDesc &d : event_table()) expected += d.valid();
    for (const ParsedEvent &e : events) {
      const Token at{Tok::Ident, "", e.offset};
      const EventDesc *d = e.id >= 0 ? find_event(uint32_t(e.id)) : nullptr;
      if (!d || d->name != e.name)
        fail(at, "event \"" + e.name + "\" (id " + std::to_string(e.id) +
                     ") is not in this build's event table (format version " +
                     std::to_string(REWIND_FORMAT_VERSION) + ")");
      bool same = d->fields.size() == e.fields.size();
      for (size_t i = 0; same && i < e.fields.size(); i++) {
        const FieldTypeInfo &ti = field_type_info(d->fields[i].type);
        same = e.fields[i].name == d->fields[i].name &&
               (e.fields[i].type == ti.tsdl_type || e.fields[i].type == ti.enum_container) &&
               e.fields[i].suffix == ti.tsdl_suffix;
      }
      if (!same)
        fail(at, "fields of event \"" + e.name + "\" differ from this build's format (version " +
                     std::to_string(REWIND_FORMAT_VERSION) + ")");
    }
    if (events.size() != expected)
      fail(peek(), "metadata declares " + std::to_string(events.size()) + " events, this build's " +
                       "format has " + std::to_string(expected));
  }

  const std::string &file_;
  std::vector<Token> t_;
  size_t i_ = 0;
  int64_t raw_offset_ = 0;
};

}  // namespace

TraceMeta parse_metadata(const std::string &file, std::string_view text) {
  if (text.size() >= 4 && load_le32(reinterpret_cast<const uint8_t *>(text.data())) == 0x75D11D57u)
    throw DecodeError(file, 0, "packetized metadata is not supported; expected TSDL text");
  if (text.size() > (64u << 20)) throw DecodeError(file, 0, "metadata larger than 64 MiB");
  if (text.find('\0') != std::string_view::npos)
    throw DecodeError(file, text.find('\0'), "NUL byte in metadata text");
  return Parser(file, Lexer(file, text).run()).run();
}

}  // namespace rwd
