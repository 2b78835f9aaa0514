#include "core/version.h"

namespace rwd {

std::string build_description() {
  std::string s = std::string("rewind-native ") + kNativeVersion;
#if defined(__clang__)
  s += " (clang " __clang_version__ ")";
#elif defined(__GNUC__)
  s += " (gcc " __VERSION__ ")";
#endif
  s += " c++" + std::to_string(__cplusplus / 100 % 100);
  return s;
}

}  // namespace rwd
