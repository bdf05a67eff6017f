#include "common/proc_stat.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace cosched {
namespace {

TEST(ProcStatTest, ReadsThisProcess) {
  const std::optional<ProcStat> stat = ReadProcStat("/proc/self/stat");
  ASSERT_TRUE(stat.has_value());
  EXPECT_GE(stat->cpu_seconds, 0);
  EXPECT_GT(stat->resident_bytes, 0);
  EXPECT_GE(stat->virtual_bytes, stat->resident_bytes);
  EXPECT_GT(stat->start_after_boot_seconds, 0);
}

// The command name may hold spaces and parentheses; the fields count from its last ')'.
TEST(ProcStatTest, ACommandNameWithParenthesesAndSpacesDoesNotShiftTheFields) {
  const std::string path = ::testing::TempDir() + "/proc_stat_test_stat";
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  // Fields 3..24: state, 10 others, utime=3*ticks, stime=ticks, 6 others, starttime=
  // 10*ticks, vsize=8192, rss=2.
  std::ofstream(path) << "42 (a) b (c)) S 1 1 1 0 -1 0 0 0 0 0 " << 3 * ticks << " " << ticks
                      << " 0 0 20 0 1 0 " << 10 * ticks << " 8192 2 18446744073709551615\n";
  const std::optional<ProcStat> stat = ReadProcStat(path);
  ASSERT_TRUE(stat.has_value());
  EXPECT_DOUBLE_EQ(stat->cpu_seconds, 4);
  EXPECT_DOUBLE_EQ(stat->start_after_boot_seconds, 10);
  EXPECT_DOUBLE_EQ(stat->virtual_bytes, 8192);
  EXPECT_DOUBLE_EQ(stat->resident_bytes, 2.0 * static_cast<double>(::sysconf(_SC_PAGESIZE)));
}

TEST(ProcStatTest, AProcessThatIsGoneOrALineCutShortIsNothing) {
  EXPECT_FALSE(ReadProcStat("/proc/no-such-process/stat").has_value());
  const std::string path = ::testing::TempDir() + "/proc_stat_test_short";
  std::ofstream(path) << "42 (cut) S 1 1\n";
  EXPECT_FALSE(ReadProcStat(path).has_value());
}

}  // namespace
}  // namespace cosched
