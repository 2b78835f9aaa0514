#include "core/event_table.h"

#include <rewind/format.h>

#include <cstring>
#include <stdexcept>

namespace rwd {

namespace {

struct RawType {
  const char *name;
  uint32_t size;
  const char *tsdl_type;
  const char *tsdl_suffix;
};

const RawType kRawTypes[] = {
#define RWD_X_FT(T, B, N, S) {#T, B, N, S},
    REWIND_FIELD_TYPES(RWD_X_FT)
#undef RWD_X_FT
};

static_assert(sizeof(kRawTypes) / sizeof(kRawTypes[0]) == REWIND_FT_COUNT,
              "one entry per format field type");

// The declaration of a TSDL type alias of the format header, up to its ":=", or "".
std::string_view alias_declaration(std::string_view alias) {
  const std::string_view all = REWIND_TSDL_TYPEALIASES;
  const std::string needle = std::string(":= ") + std::string(alias) + ";";
  const size_t at = all.find(needle);
  if (at == std::string_view::npos) return {};
  const size_t line = all.rfind("typealias", at);
  return all.substr(line, at - line);
}

// The integer alias an enumeration alias is declared over ("typealias enum : int16_t {"), or "".
std::string enum_container(std::string_view alias) {
  constexpr std::string_view kEnum = "typealias enum : ";
  const std::string_view decl = alias_declaration(alias);
  if (decl.substr(0, kEnum.size()) != kEnum) return {};
  const std::string_view rest = decl.substr(kEnum.size());
  return std::string(rest.substr(0, rest.find_first_of(" {")));
}

// Signedness, byte order and base come from the TSDL type aliases of the format header, the
// same text the metadata carries, so the decoder cannot disagree with what babeltrace2 reads.
// An enumeration has its container's.
std::string alias_attribute(std::string_view alias, std::string_view key) {
  const std::string container = enum_container(alias);
  if (!container.empty()) return alias_attribute(container, key);
  const std::string_view decl = alias_declaration(alias);
  if (decl.empty()) return {};
  const size_t k = decl.find(std::string(key) + " = ");
  if (k == std::string_view::npos) return {};
  const size_t v = k + key.size() + 3;
  return std::string(decl.substr(v, decl.find(';', v) - v));
}

std::vector<FieldTypeInfo> build_types() {
  std::vector<FieldTypeInfo> types;
  for (const RawType &r : kRawTypes) {
    if (r.size != 0 && alias_attribute(r.tsdl_type, "size").empty())
      throw std::logic_error(std::string("format.h: no TSDL alias for ") + r.tsdl_type);
    FieldTypeInfo t{};
    t.name = r.name;
    t.size = r.size;
    t.tsdl_type = r.tsdl_type;
    t.tsdl_suffix = r.tsdl_suffix;
    t.is_signed = alias_attribute(r.tsdl_type, "signed") == "true";
    t.big_endian = alias_attribute(r.tsdl_type, "byte_order") == "be";
    t.hex = alias_attribute(r.tsdl_type, "base") == "16";
    t.is_bytes = r.tsdl_suffix[0] != '\0';
    t.enum_container = enum_container(r.tsdl_type);
    if (r.size != 0) {
      const uint32_t bits = std::stoul(alias_attribute(r.tsdl_type, "size"));
      const uint32_t count = t.is_bytes ? std::stoul(std::string(r.tsdl_suffix).substr(1)) : 1;
      if (bits * count != r.size * 8)
        throw std::logic_error(std::string("format.h: size of ") + r.name + " disagrees with TSDL");
      t.element_size = bits / 8;
    }
    types.push_back(t);
  }
  return types;
}

const std::vector<FieldTypeInfo> &types() {
  static const std::vector<FieldTypeInfo> t = build_types();
  return t;
}

std::vector<EventDesc> build_table() {
  static const rewind_desc kDesc[] = REWIND_DESC_TABLE_INIT;
  std::vector<EventDesc> table;
  EventDesc *cur = nullptr;
  for (const rewind_desc &d : kDesc) {
    switch (d.kind) {
      case REWIND_DESC_EVENT:
        if (d.id >= table.size()) table.resize(d.id + 1u);
        cur = &table[d.id];
        if (cur->valid()) throw std::logic_error("format.h: duplicate event id");
        cur->id = d.id;
        cur->name = d.name;
        break;
      case REWIND_DESC_FIELD: {
        if (!cur || d.type >= REWIND_FT_COUNT) throw std::logic_error("format.h: bad descriptor");
        const FieldType t = static_cast<FieldType>(d.type);
        const uint32_t size = kRawTypes[d.type].size;
        cur->fields.push_back({d.name, t, size});
        cur->fixed_size += size;
        cur->has_strings |= size == 0;
        break;
      }
      case REWIND_DESC_END:
        cur = nullptr;
        break;
      default:
        throw std::logic_error("format.h: bad descriptor kind");
    }
  }
  return table;
}

}  // namespace

const FieldTypeInfo &field_type_info(FieldType t) { return types()[static_cast<size_t>(t)]; }

size_t field_type_count() { return REWIND_FT_COUNT; }

const std::vector<EventDesc> &event_table() {
  static const std::vector<EventDesc> table = build_table();
  return table;
}

int64_t find_event_id(std::string_view name) {
  for (const EventDesc &e : event_table())
    if (e.valid() && e.name == name) return e.id;
  return -1;
}

}  // namespace rwd
