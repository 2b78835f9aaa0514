// Where outputs go: an output never is, contains or lies inside an input (real paths), is
// written under a temporary sibling and renamed in only on success, and replaces an existing one
// only with force, never mixing into it. And the merge's own refusals: the same trace twice, and
// stream files that are empty, a fifo or a directory.
#include "core/output.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <rewind/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "core/merge.h"
#include "core/merge_files.h"
#include "core/reader.h"
#include "core/sys_error.h"
#include "core/trace_dir.h"
#include "test_util.h"

using namespace rwd;
using namespace rwd_test;

namespace {

std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_text(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool exists(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Entries of dir, hidden ones included ("." and ".." left out).
std::vector<std::string> entries(const std::string &dir) {
  std::vector<std::string> out;
  std::unique_ptr<DIR, int (*)(DIR *)> d(::opendir(dir.c_str()), ::closedir);
  while (const dirent *e = ::readdir(d.get()))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  std::sort(out.begin(), out.end());
  return out;
}

void write_node(const std::string &dir, const std::string &host) {
  WriterOptions o;
  o.meta = test_meta(host);
  TraceWriter w(dir, o);
  for (int i = 0; i < 20; i++)
    w.event(uint32_t(i % 2), REWIND_EV_SCHED_WAKEUP, 1000 + uint64_t(i) * 10,
            {snum(i), num(120), num(0)});
  w.close();
}

}  // namespace

TEST(RealPath, ResolvesLinksDotDotAndMissingTails) {
  TempDir tmp;
  const std::string root = real_path(tmp.path());
  ::mkdir((tmp / "in").c_str(), 0755);
  ASSERT_EQ(::symlink((tmp / "in").c_str(), (tmp / "link").c_str()), 0);
  EXPECT_EQ(real_path(tmp / "link"), root + "/in");
  EXPECT_EQ(real_path(tmp / "link/x/y"), root + "/in/x/y");
  EXPECT_EQ(real_path(tmp / "in/../link/./z"), root + "/in/z");
  EXPECT_EQ(real_path(tmp / "missing/../in"), root + "/in");
  ASSERT_EQ(::chdir(tmp.path().c_str()), 0);
  EXPECT_EQ(real_path("link/stream_0"), root + "/in/stream_0");
  EXPECT_EQ(real_path("."), root);
}

TEST(PathWithin, ComparesWholeComponents) {
  EXPECT_TRUE(path_within("/a/b", "/a/b"));
  EXPECT_TRUE(path_within("/a/b/c", "/a/b"));
  EXPECT_FALSE(path_within("/a/bc", "/a/b"));
  EXPECT_FALSE(path_within("/a", "/a/b"));
  EXPECT_TRUE(path_within("/anything", "/"));
}

TEST(CheckOutputApart, RefusesAnOutputThatIsContainsOrLiesInsideAnInput) {
  TempDir tmp;
  write_node(tmp / "self/node-a", "node-a");
  write_node(tmp / "self/node-b", "node-b");
  ::mkdir((tmp / "elsewhere").c_str(), 0755);
  ASSERT_EQ(::symlink((tmp / "self/node-a").c_str(), (tmp / "elsewhere/a").c_str()), 0);
  ASSERT_EQ(::symlink((tmp / "self/node-b/stream_0").c_str(), (tmp / "file-link").c_str()), 0);
  const auto inputs = input_paths({tmp / "self/node-a", tmp / "self/node-b"});
  for (const std::string &out :
       {tmp / "self", tmp.path(), tmp / "self/node-a", tmp / "self/node-a/new",
        tmp / "self/node-b/stream_0", tmp / "elsewhere/a/x", tmp / "self/node-c/../node-a",
        tmp / "file-link"})
    EXPECT_THROW(check_output_apart(out, inputs, "output"), std::invalid_argument) << out;
  for (const std::string &out : {tmp / "out", tmp / "self/node-c", tmp / "elsewhere/b"})
    EXPECT_NO_THROW(check_output_apart(out, inputs, "output")) << out;
  // A stream file linked in from elsewhere is an input too.
  write_node(tmp / "t", "t");
  ASSERT_EQ(::rename((tmp / "t/stream_1").c_str(), (tmp / "elsewhere/s1").c_str()), 0);
  ASSERT_EQ(::symlink((tmp / "elsewhere/s1").c_str(), (tmp / "t/stream_1").c_str()), 0);
  EXPECT_THROW(check_output_apart(tmp / "elsewhere", input_paths({tmp / "t"}), "output"),
               std::invalid_argument);
}

TEST(StagedOutput, AppearsOnlyOnCommitAndLeavesNothingOnFailure) {
  TempDir tmp;
  {
    StagedOutput o(tmp / "out", StagedOutput::Kind::Directory, false);
    write_text(o.temp() + "/f", "new");
    EXPECT_FALSE(exists(tmp / "out"));
  }  // no commit: an exception took this path
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{});
  {
    StagedOutput o(tmp / "out", StagedOutput::Kind::Directory, false);
    write_text(o.temp() + "/f", "new");
    o.commit();
  }
  EXPECT_EQ(slurp(tmp / "out/f"), "new");
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"out"});
}

TEST(StagedOutput, RefusesAnExistingOutputUnlessForceThenReplacesItWhole) {
  TempDir tmp;
  ::mkdir((tmp / "out").c_str(), 0755);
  write_text(tmp / "out/stale", "old");
  try {
    StagedOutput o(tmp / "out", StagedOutput::Kind::Directory, false);
    FAIL() << "an existing non-empty output was accepted";
  } catch (const SysError &e) {
    EXPECT_EQ(e.err(), EEXIST);
  }
  {
    StagedOutput o(tmp / "out", StagedOutput::Kind::Directory, true);
    write_text(o.temp() + "/fresh", "new");
    o.commit();
  }
  EXPECT_EQ(entries(tmp / "out"), std::vector<std::string>{"fresh"});  // nothing stale mixed in
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"out"});     // nothing left aside
  // An empty directory or file is taken without force; a kind mismatch never.
  ::mkdir((tmp / "empty").c_str(), 0755);
  StagedOutput(tmp / "empty", StagedOutput::Kind::Directory, false).commit();
  write_text(tmp / "file.json", "{}");
  EXPECT_THROW(StagedOutput(tmp / "file.json", StagedOutput::Kind::File, false), SysError);
  EXPECT_THROW(StagedOutput(tmp / "out", StagedOutput::Kind::File, true), SysError);
}

TEST(MergeToOutputs, RefusesTheSameTraceTwiceAndLeavesInputsAlone) {
  TempDir tmp;
  write_node(tmp / "self/node-a", "node-a");
  const std::string before = slurp(tmp / "self/node-a/stream_0");
  ASSERT_EQ(::symlink((tmp / "self/node-a").c_str(), (tmp / "again").c_str()), 0);
  MergeOutputs out;
  out.ctf_dir = tmp / "out";
  try {
    merge_to_outputs({{tmp / "self/node-a", "x", 0}, {tmp / "again", "y", 0}}, out, {});
    FAIL() << "the same trace twice was merged";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("the same trace twice"), std::string::npos) << e.what();
  }
  out.ctf_dir = tmp / "self";
  EXPECT_THROW(merge_to_outputs({{tmp / "self/node-a", "", 0}}, out, {}), std::invalid_argument);
  out.ctf_dir = "";
  out.chrome_path = tmp / "self/node-a/stream_0";
  EXPECT_THROW(merge_to_outputs({{tmp / "self/node-a", "", 0}}, out, {}), std::invalid_argument);
  EXPECT_EQ(slurp(tmp / "self/node-a/stream_0"), before);
  EXPECT_FALSE(exists(tmp / "out"));
}

TEST(MergeToOutputs, AFailedStrictMergeLeavesNoOutput) {
  TempDir tmp;
  write_node(tmp / "a", "a");
  write_text(tmp / "a/stream_7", "");  // an empty stream file: damage
  MergeOutputs out;
  out.ctf_dir = tmp / "out";
  EXPECT_THROW(merge_to_outputs({{tmp / "a", "", 0}}, out, strict_options()), DecodeError);
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"a"});
  const MergeResult r = merge_to_outputs({{tmp / "a", "", 0}}, out, {});
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].reason, "empty stream file (no packets)");
  EXPECT_EQ(r.events, 20u);
}

TEST(TraceOpen, ReportsFifoAndDirectoryStreamFilesWithoutBlocking) {
  TempDir tmp;
  write_node(tmp / "a", "a");
  ASSERT_EQ(::mkfifo((tmp / "a/stream_5").c_str(), 0644), 0);
  ASSERT_EQ(::mkdir((tmp / "a/stream_6").c_str(), 0755), 0);
  auto t = Trace::open(tmp / "a");
  ASSERT_EQ(t->damage().size(), 2u);
  EXPECT_EQ(t->damage()[0].reason, "not a regular file (a fifo)");
  EXPECT_EQ(t->damage()[1].reason, "not a regular file (a directory)");
  EXPECT_EQ(t->stream_count(), 2u);
  EXPECT_THROW(Trace::open(tmp / "a", true), DecodeError);
}
