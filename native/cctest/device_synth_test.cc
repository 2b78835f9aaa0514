// What can be tested of the device without the module (the rest runs in VMs: test/native), and
// the synthetic workload generator.
#include <gtest/gtest.h>
#include <rewind/format.h>
#include <uapi/rewind.h>

#include "core/device.h"
#include "core/merge.h"
#include "core/synth.h"
#include "core/sys_error.h"
#include "core/trace_dir.h"
#include "test_util.h"

using namespace rwd;

namespace {

// The SysError of opening path ("" if none).
SysError open_error(const std::string &path) {
  try {
    Device d(path);
  } catch (const SysError &e) {
    return e;
  }
  return SysError(0, "", "", "");
}

}  // namespace

TEST(Device, OpenErrorsKeepErrnoCallAndPath) {
  const SysError missing = open_error("/nonexistent/rewind");
  EXPECT_STREQ(missing.what(), "cannot open /nonexistent/rewind: No such file or directory");
  EXPECT_EQ(missing.err(), ENOENT);
  EXPECT_STREQ(missing.code(), "ENOENT");
  EXPECT_EQ(missing.syscall(), "open");
  EXPECT_EQ(missing.path(), "/nonexistent/rewind");
  // Not the Rewind device: the ABI ioctl is refused.
  const SysError null = open_error("/dev/null");
  EXPECT_STREQ(null.what(), "/dev/null: REWIND_IOC_ABI_VERSION: Inappropriate ioctl for device");
  EXPECT_STREQ(null.code(), "ENOTTY");
  EXPECT_EQ(null.syscall(), "REWIND_IOC_ABI_VERSION");
  EXPECT_EQ(null.path(), "/dev/null");
}

TEST(Device, AbiMismatchNamesBothVersions) {
  EXPECT_NO_THROW(check_abi_versions("/dev/rewind", REWIND_ABI_VERSION, REWIND_FORMAT_VERSION));
  try {
    check_abi_versions("/dev/rewind", REWIND_ABI_VERSION + 1, REWIND_FORMAT_VERSION);
    FAIL() << "no error";
  } catch (const AbiMismatch &e) {
    EXPECT_EQ(std::string(e.what()),
              "/dev/rewind: the module speaks ABI version " +
                  std::to_string(REWIND_ABI_VERSION + 1) + " and wire format " +
                  std::to_string(REWIND_FORMAT_VERSION) +
                  "; this addon was built for ABI version " + std::to_string(REWIND_ABI_VERSION) +
                  " and wire format " + std::to_string(REWIND_FORMAT_VERSION) +
                  " (rebuild the addon or load the matching rewind.ko)");
  }
  EXPECT_THROW(check_abi_versions("d", REWIND_ABI_VERSION, REWIND_FORMAT_VERSION + 1),
               std::runtime_error);
}

TEST(Synthetic, WritesAValidDeterministicTrace) {
  rwd_test::TempDir tmp;
  SynthOptions o;
  o.cpus = 3;
  o.events_per_cpu = 5000;
  o.packet_size = 4096;
  const uint64_t n = write_synthetic_trace(tmp / "a", o);
  EXPECT_GE(n, 3u * 5000);
  EXPECT_LE(n, 3u * 5000 + 3 * 4);
  const MergeResult r = merge_traces({{tmp / "a", "", 0}}, {}, rwd_test::strict_options());
  EXPECT_EQ(r.events, n);
  EXPECT_GT(r.per_node[0].by_type().at("sched_switch"), 100u);
  EXPECT_GT(r.streams[0].stats.packets, 10u);
  write_synthetic_trace(tmp / "b", o);
  EXPECT_TRUE(read_file(tmp / "a/stream_1", 1 << 26) == read_file(tmp / "b/stream_1", 1 << 26));
  EXPECT_TRUE(read_file(tmp / "a/metadata", 1 << 26) == read_file(tmp / "b/metadata", 1 << 26));
}
