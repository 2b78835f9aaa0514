#include "core/merge_files.h"

#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/chrome_sink.h"
#include "core/ctf_sink.h"
#include "core/output.h"
#include "core/sys_error.h"

namespace rwd {

namespace {

void replace_all(std::string &s, const std::string &from, const std::string &to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

MergeResult merge_to_outputs(const std::vector<MergeInput> &inputs, const MergeOutputs &outputs,
                             const MergeOptions &opts, const std::vector<MergeSink *> &observers) {
  const bool to_stdout = outputs.chrome_path == "-";
  const bool ctf = !outputs.ctf_dir.empty(), chrome = !outputs.chrome_path.empty() && !to_stdout;
  if (ctf || chrome) {
    std::vector<std::string> dirs;
    for (const MergeInput &in : inputs) dirs.push_back(in.dir);
    const std::vector<std::string> protect = input_paths(dirs);
    if (ctf) check_output_apart(outputs.ctf_dir, protect, "output");
    if (chrome) check_output_apart(outputs.chrome_path, protect, "Chrome output");
    if (ctf && chrome)
      check_output_apart(outputs.chrome_path, {real_path(outputs.ctf_dir)}, "Chrome output");
  }
  std::unique_ptr<StagedOutput> ctf_out, chrome_out;
  if (ctf)
    ctf_out = std::make_unique<StagedOutput>(outputs.ctf_dir, StagedOutput::Kind::Directory,
                                             outputs.force);
  if (chrome)
    chrome_out = std::make_unique<StagedOutput>(outputs.chrome_path, StagedOutput::Kind::File,
                                                outputs.force);
  std::unique_ptr<CtfSink> ctf_sink;
  std::unique_ptr<ChromeSink> chrome_sink;
  std::vector<MergeSink *> sinks = observers;
  if (ctf) sinks.push_back((ctf_sink = std::make_unique<CtfSink>(ctf_out->temp())).get());
  if (chrome || to_stdout)
    sinks.push_back((chrome_sink = std::make_unique<ChromeSink>(chrome ? chrome_out->temp() : "-",
                                                                outputs.chrome_relative_time))
                        .get());
  MergeResult r;
  try {
    r = merge_traces(inputs, sinks, opts);
  } catch (const SysError &e) {
    // Name the output asked for, not its temporary: "cannot write out/node-a/stream_0: ...".
    auto named = [&](std::string s) {
      if (ctf_out) replace_all(s, ctf_out->temp(), outputs.ctf_dir);
      if (chrome_out) replace_all(s, chrome_out->temp(), outputs.chrome_path);
      return s;
    };
    std::string message = e.what();
    const std::string cause = std::string(": ") + std::strerror(e.err());
    if (message.size() >= cause.size() &&
        message.compare(message.size() - cause.size(), cause.size(), cause) == 0)
      message.resize(message.size() - cause.size());
    throw SysError(e.err(), e.syscall(), named(e.path()), named(message));
  }
  if (ctf_sink)
    for (size_t n = 0; n < r.per_node.size() && n < ctf_sink->pod_events().size(); n++)
      r.per_node[n].pod_events = ctf_sink->pod_events()[n];
  if (ctf_out) ctf_out->commit();
  if (chrome_out) chrome_out->commit();
  return r;
}

}  // namespace rwd
