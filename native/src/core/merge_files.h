// The merge as the tools run it: outputs checked against the inputs, written under temporary
// siblings and renamed into place only when the merge succeeded (core/output.h). The binding's
// merge(), hence mergeTraces/exportChrome and `rewind-trace`, all go through here, so the rules
// hold for every caller, not only the command line.
#pragma once

#include <string>
#include <vector>

#include "core/merge.h"

namespace rwd {

struct MergeOutputs {
  std::string ctf_dir;      // the unified trace directory; "" = none
  std::string chrome_path;  // Chrome Trace Event JSON; "" = none, "-" = standard output
  bool force = false;       // replace an existing, non-empty output (never mix into it)
  // Chrome "ts" from the first event instead of the Unix epoch (core/chrome_sink.h: exact in
  // viewers that hold times as doubles, where a Unix-epoch time keeps 0.25 us).
  bool chrome_relative_time = false;
};

// Throws std::invalid_argument when an output is, contains or lies inside an input (or the two
// outputs overlap), SysError EEXIST for an existing non-empty output without force; else what
// merge_traces throws, and then no output path has changed. `observers` are the caller's own
// sinks that write nothing (core/name_stats.h), run beside the outputs'.
MergeResult merge_to_outputs(const std::vector<MergeInput> &inputs, const MergeOutputs &outputs,
                             const MergeOptions &opts,
                             const std::vector<MergeSink *> &observers = {});

}  // namespace rwd
