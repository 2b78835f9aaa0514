// The generated metadata parses back, and what a reader relies on is checked.
#include "core/metadata.h"

#include <gtest/gtest.h>
#include <rewind/format.h>

#include "core/event_table.h"
#include "core/reader.h"
#include "test_util.h"

using namespace rwd;

TEST(EventTable, FollowsTheFormatHeader) {
  const auto &t = event_table();
  ASSERT_EQ(t.size(), size_t(REWIND_EV_COUNT));
  EXPECT_EQ(t[REWIND_EV_SCHED_SWITCH].name, "sched_switch");
  ASSERT_EQ(t[REWIND_EV_SCHED_SWITCH].fields.size(), 5u);
  EXPECT_EQ(t[REWIND_EV_SCHED_SWITCH].fixed_size, 4u + 1 + 1 + 4 + 1);
  EXPECT_TRUE(t[REWIND_EV_TASK_RENAME].has_strings);
  EXPECT_EQ(find_event_id("statedump_end"), REWIND_EV_STATEDUMP_END);
  EXPECT_EQ(find_event_id("nope"), -1);
  EXPECT_TRUE(field_type_info(FieldType::BE16).big_endian);
  EXPECT_TRUE(field_type_info(FieldType::IP4).big_endian);
  EXPECT_TRUE(field_type_info(FieldType::IP4).hex);
  EXPECT_FALSE(field_type_info(FieldType::U32).big_endian);
  EXPECT_TRUE(field_type_info(FieldType::S16).is_signed);
  EXPECT_FALSE(field_type_info(FieldType::STR).is_signed);
  EXPECT_TRUE(field_type_info(FieldType::IP6).is_bytes);
  EXPECT_TRUE(field_type_info(FieldType::X64).hex);
  // sys_enter's id: an enumeration of the system call names over an int16_t.
  const FieldTypeInfo &sc = field_type_info(FieldType::SYSCALL);
  EXPECT_EQ(sc.enum_container, "int16_t");
  EXPECT_TRUE(sc.is_signed);
  EXPECT_EQ(sc.element_size, 2u);
  EXPECT_EQ(field_type_info(FieldType::S16).enum_container, "");
  EXPECT_EQ(t[REWIND_EV_SYS_ENTER].fields[0].type, FieldType::SYSCALL);
}

TEST(Metadata, NamesSystemCallsInAnEnumeration) {
  const std::string text = generate_metadata(rwd_test::test_meta("h"));
  const size_t alias = text.find("typealias enum : int16_t {");
  ASSERT_NE(alias, std::string::npos);
  const size_t end = text.find("} := syscall_id_t;", alias);
  ASSERT_NE(end, std::string::npos);
  const std::string mappings = text.substr(alias, end - alias);
  EXPECT_NE(mappings.find("\t\"read\" = 0,\n"), std::string::npos);
  EXPECT_NE(mappings.find("\t\"getppid\" = 110,\n"), std::string::npos);
  EXPECT_NE(mappings.find("\t\"openat\" = 257,\n"), std::string::npos);
  EXPECT_NE(text.find("syscall_id_t id;"), std::string::npos);
  // A version 3 trace declared the id a plain int16_t: the same bytes, still read.
  std::string v3 = text;
  v3.replace(v3.find("syscall_id_t id;"), 16, "int16_t id;");
  EXPECT_EQ(parse_metadata("v3", v3).hostname(), "h");
  // Any other type is refused.
  std::string other = text;
  other.replace(other.find("syscall_id_t id;"), 16, "int32_t id;");
  EXPECT_THROW(parse_metadata("other", other), DecodeError);
}

TEST(Metadata, GeneratedTextParsesBack) {
  TraceMeta m = rwd_test::test_meta("worker-1", -1500000001);
  m.set_env("sysname", "Linux");
  m.set_env("tracer_major", "1", false);
  const std::string text = generate_metadata(m);
  EXPECT_NE(text.find("absolute = true;"), std::string::npos);
  EXPECT_NE(text.find(REWIND_TSDL_EVENTS), std::string::npos);
  const TraceMeta p = parse_metadata("metadata", text);
  EXPECT_EQ(p.uuid, m.uuid);
  EXPECT_EQ(p.hostname(), "worker-1");
  EXPECT_EQ(p.clock.offset_ns(), -1500000001);
  EXPECT_EQ(p.clock.offset_s, -2);
  EXPECT_EQ(p.clock.offset, 499999999u);
  // The module prints offset_s and offset truncated toward zero: both may be negative.
  std::string neg = text;
  neg.replace(neg.find("offset_s = -2;"), 14, "offset_s = -1;");
  neg.replace(neg.find("offset = 499999999;"), 19, "offset = -500000001;");
  EXPECT_EQ(parse_metadata("m", neg).clock.offset_ns(), -1500000001);
  EXPECT_EQ(p.clock.uuid, m.clock.uuid);
  EXPECT_TRUE(p.clock.absolute);
  ASSERT_EQ(p.env.size(), 5u);
  EXPECT_FALSE(p.env[4].is_string);
}

namespace {

std::string error_of(const std::string &text) {
  try {
    parse_metadata("meta", text);
  } catch (const DecodeError &e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Metadata, RefusesWhatItCannotRead) {
  const std::string good = generate_metadata(rwd_test::test_meta("h"));
  auto replaced = [&](const std::string &from, const std::string &to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_NE(error_of(replaced("byte_order = le", "byte_order = be")).find("byte order be"),
            std::string::npos);
  EXPECT_NE(error_of(replaced("freq = 1000000000", "freq = 1000")).find("clock frequency 1000 "),
            std::string::npos);
  const std::string renamed = error_of(replaced("name = \"sched_waking\"", "name = \"other\""));
  EXPECT_NE(renamed.find("event \"other\" (id 1) is not in this build's event table"),
            std::string::npos)
      << renamed;
  const std::string field = error_of(replaced("int32_t prev_tid;", "int32_t prev_pid;"));
  EXPECT_NE(field.find("fields of event \"sched_switch\" differ"), std::string::npos) << field;
  EXPECT_NE(error_of(good.substr(0, good.size() / 2)).find("meta: at byte"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x57\x1d\xd1\x75", 4) + good).find("packetized"),
            std::string::npos);
  EXPECT_NE(error_of("trace { uuid = \"zz\"; };").find("not a uuid"), std::string::npos);
  EXPECT_NE(error_of(replaced("offset_s = 1700000000;", "offset_s = 9223372037;"))
                .find("clock offset out of range"),
            std::string::npos);
  EXPECT_NE(error_of("trace { major = 1; }; clock { name = x; }; @").find("unexpected character"),
            std::string::npos);
}
