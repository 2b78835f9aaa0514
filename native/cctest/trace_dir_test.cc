// Finding traces under a directory: never through a symbolic link to a directory (two `x -> .`
// links would make the search endless), never deeper than kMaxTraceDepth, and failures that keep
// errno and path.
#include "core/trace_dir.h"

#include <gtest/gtest.h>
#include <rewind/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sys_error.h"
#include "core/writer.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

namespace {

void write_trace(const std::string &dir, const std::string &host) {
  WriterOptions o;
  o.meta = test_meta(host);
  TraceWriter w(dir, o);
  w.event(0, REWIND_EV_SOFTIRQ_EXIT, 1, {});
  w.close();
}

}  // namespace

TEST(FindTraces, DoesNotFollowLinksToDirectories) {
  TempDir tmp;
  write_trace(tmp / "root/node-a", "node-a");
  ASSERT_EQ(::symlink(".", (tmp / "root/x").c_str()), 0);
  ASSERT_EQ(::symlink(".", (tmp / "root/node-a/y").c_str()), 0);
  ASSERT_EQ(::symlink("node-a", (tmp / "root/alias").c_str()), 0);
  EXPECT_EQ(find_traces(tmp / "root"), std::vector<std::string>{tmp / "root/node-a"});
  // A link given as the root itself is followed.
  ASSERT_EQ(::symlink((tmp / "root").c_str(), (tmp / "link").c_str()), 0);
  EXPECT_EQ(find_traces(tmp / "link"), std::vector<std::string>{tmp / "link/node-a"});
  EXPECT_EQ(find_traces(tmp / "root/alias"), std::vector<std::string>{tmp / "root/alias"});
}

TEST(FindTraces, GivesUpBelowTheDepthLimit) {
  TempDir tmp;
  std::string deep = tmp / "root";
  for (int i = 1; i < kMaxTraceDepth; i++) deep += "/d";
  write_trace(deep + "/t", "deep");  // at depth kMaxTraceDepth: found
  EXPECT_EQ(find_traces(tmp / "root").size(), 1u);
  make_dirs(deep + "/d");  // a directory to search one level deeper: an error
  try {
    find_traces(tmp / "root");
    FAIL() << "no error";
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()), tmp / "root" + ": directories nested deeper than " +
                                         std::to_string(kMaxTraceDepth) + " levels (" + deep +
                                         "/d); give the trace directories themselves");
  }
}

TEST(FindTraces, MissingRootKeepsErrnoAndPath) {
  TempDir tmp;
  try {
    find_traces(tmp / "missing");
    FAIL() << "no error";
  } catch (const SysError &e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_EQ(e.syscall(), "stat");
    EXPECT_EQ(e.path(), tmp / "missing");
    EXPECT_EQ(std::string(e.what()),
              "cannot read traces in " + tmp / "missing" + ": No such file or directory");
  }
}
