// Where a merge's outputs go, and how they get there without harming anyone's data. Rules:
//  - an output never is, contains or lies inside an input (real paths: symbolic links, `..` and
//    relative names resolved; every file of every input trace counts, so a symlinked stream file
//    is covered too): writing there would truncate the very bytes being read;
//  - an output is written under a temporary sibling (same directory, a name of its own) and
//    renamed into place only when the whole merge succeeded; on failure the temporary is removed
//    and nothing at the output path has changed;
//  - an existing output that is not empty is refused unless `force`, which replaces it (old one
//    renamed aside, new one renamed in, old one deleted): never a mix of old and new.
#pragma once

#include <string>
#include <vector>

namespace rwd {

// The absolute real path of p whether or not it exists: the part that exists resolved by the
// kernel (symbolic links, `..`), the rest appended component by component.
std::string real_path(const std::string &p);

// a is b or lies inside b (both real paths; component-wise, so /a/bc is not inside /a/b).
bool path_within(const std::string &a, const std::string &b);

// The real paths an output must keep away from: each input as given and every entry of every
// trace directory found under it. Throws what finding the traces throws (SysError for a missing
// input).
std::vector<std::string> input_paths(const std::vector<std::string> &inputs);

// Throws std::invalid_argument naming both when output is, contains or lies inside one of
// `inputs` (from input_paths). `what` names the output in the message ("output", "Chrome output").
void check_output_apart(const std::string &output, const std::vector<std::string> &inputs,
                        const std::string &what);

// One output written under a temporary sibling and renamed into place by commit(); destroyed
// without commit() (an exception), it removes the temporary and leaves the output path as it was.
class StagedOutput {
 public:
  enum class Kind { Directory, File };
  // Refuses (SysError EEXIST) an existing output that is not empty unless force, and one of the
  // other kind (EISDIR, ENOTDIR) always; creates the parent directories and the temporary.
  StagedOutput(std::string path, Kind kind, bool force);
  ~StagedOutput();
  StagedOutput(const StagedOutput &) = delete;
  StagedOutput &operator=(const StagedOutput &) = delete;

  // Where to write: the temporary.
  const std::string &temp() const { return temp_; }
  void commit();

 private:
  std::string path_, temp_;
  Kind kind_;
  bool force_;
  bool committed_ = false;
};

// Removes a file or a directory tree (symbolic links removed, never followed); ENOENT is fine.
void remove_tree(const std::string &path);

}  // namespace rwd
