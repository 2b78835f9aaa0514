#include "core/version.h"

#include <gtest/gtest.h>

TEST(Version, DescriptionNamesTheVersionAndTheStandard) {
  const std::string d = rwd::build_description();
  EXPECT_NE(d.find(rwd::kNativeVersion), std::string::npos);
  EXPECT_NE(d.find("c++17"), std::string::npos);
}
