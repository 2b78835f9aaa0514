// The native core's identity. Pure C++: the core never includes napi.h (see ARCHITECTURE.md).
#pragma once

#include <string>

namespace rwd {  // not "rewind": that is a stdio function

// Version of the native engine; bumped with the package version.
inline constexpr const char *kNativeVersion = "0.1.0";

// A human-readable description of this build (version, compiler, C++ standard).
std::string build_description();

}  // namespace rwd
