// The event table, built once from the wire-format header's descriptor table
// (REWIND_DESC_TABLE_INIT in kmod/include/rewind/format.h). Nothing about the layout of an event
// is written here by hand: adding an event or a field to format.h changes the decoder, the writer
// and the metadata generator together.
#pragma once

#include <rewind/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rwd {

// Field types, in the order of REWIND_FIELD_TYPES (values equal enum rewind_field_type).
enum class FieldType : uint8_t {
#define RWD_X_FT(T, B, N, S) T = REWIND_FT_##T,
  REWIND_FIELD_TYPES(RWD_X_FT)
#undef RWD_X_FT
};

struct FieldTypeInfo {
  const char *name;       // the format header's name, e.g. "U32"
  uint32_t size;          // bytes; 0 for a NUL-terminated string
  const char *tsdl_type;  // TSDL type alias, e.g. "uint32_t"
  const char *tsdl_suffix;
  bool is_signed;
  bool big_endian;        // copied from the network as is
  bool hex;               // printed in base 16
  bool is_bytes;          // a byte array (printed as an array)
  uint32_t element_size;  // bytes of one integer (of the array for is_bytes)
  // For an enumeration (the TSDL alias is "typealias enum : <container> { ... }"): its integer
  // container's alias, whose attributes it has; metadata declaring the field with the container
  // instead reads the same (version 3 traces: sys_enter's id was a plain int16_t). Else "".
  std::string enum_container;
};

const FieldTypeInfo &field_type_info(FieldType t);
size_t field_type_count();

struct FieldDesc {
  std::string name;
  FieldType type;
  uint32_t size;  // 0: string
};

struct EventDesc {
  uint32_t id = 0;
  std::string name;  // empty: no event with this id
  std::vector<FieldDesc> fields;
  uint32_t fixed_size = 0;  // bytes of the fixed-size fields
  bool has_strings = false;
  bool valid() const { return !name.empty(); }
};

// Events indexed by id (dense from 0; holes have valid() == false).
const std::vector<EventDesc> &event_table();

// The event with this id, or nullptr.
inline const EventDesc *find_event(uint32_t id) {
  const auto &t = event_table();
  return id < t.size() && t[id].valid() ? &t[id] : nullptr;
}

// The id of the event with this name, or -1.
int64_t find_event_id(std::string_view name);

}  // namespace rwd
