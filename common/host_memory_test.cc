// File: common/host_memory_test.cc
#include "common/host_memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace cosched {
namespace {

TEST(HostMemoryTest, UsableMemoryIsPositiveAndAtMostPhysicalMemory) {
  absl::StatusOr<int64_t> usable = UsableMemoryBytes();
  ASSERT_TRUE(usable.ok()) << usable.status();
  const int64_t physical = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) *
                           static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_GT(*usable, 0);
  EXPECT_LE(*usable, physical);
}

}  // namespace
}  // namespace cosched
