// File: scheduler/kv/kv_table_test.cc
// KvTable semantics: set/get/wait, timeouts naming the missing keys, watches, DeletePrefix,
// Close waking every waiter, and the limits on keys, values and table size.
#include "scheduler/kv/kv_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace cosched::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Waits, without sleeping, until `condition` holds; false if `timeout` passes first.
bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Records what a watch was called with.
struct WatchRecord {
  std::atomic<int> calls{0};
  absl::StatusOr<std::vector<KvTable::Value>> result = absl::UnknownError("not called");

  KvTable::WatchCallback Callback() {
    return [this](absl::StatusOr<std::vector<KvTable::Value>> values) {
      result = std::move(values);
      ++calls;
    };
  }
  std::vector<std::string> Strings() const {
    std::vector<std::string> out;
    for (const KvTable::Value& value : *result) out.push_back(*value);
    return out;
  }
};

TEST(KvTableTest, SetThenGetReturnsTheValue) {
  KvTable table;
  ASSERT_TRUE(table.Set("job/a/gen/0/rank_0", std::string("addr\0ess", 8)).ok());
  absl::StatusOr<std::string> value = table.Get("job/a/gen/0/rank_0", absl::Seconds(1));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, std::string("addr\0ess", 8));
}

TEST(KvTableTest, OverwriteReplacesTheValueAndItsBytes) {
  KvTable table;
  ASSERT_TRUE(table.Set("k", "12345").ok());
  ASSERT_TRUE(table.Set("k", "12").ok());
  EXPECT_EQ(*table.Get("k", absl::ZeroDuration()), "12");
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.total_bytes(), 3u);
}

TEST(KvTableTest, GetWaitsForAKeySetByAnotherThread) {
  KvTable table;
  absl::StatusOr<std::string> value;
  std::thread reader([&] { value = table.Get("late", absl::Seconds(30)); });
  ASSERT_TRUE(Eventually([&] { return table.waiting() == 1; }));
  ASSERT_TRUE(table.Set("late", "here").ok());
  reader.join();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "here");
}

TEST(KvTableTest, WaitTimesOutNamingOnlyTheMissingKeys) {
  KvTable table;
  ASSERT_TRUE(table.Set("present", "x").ok());
  const absl::Time start = absl::Now();
  const absl::Status status = table.Wait({"present", "absent/1"}, absl::Milliseconds(50));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("absent/1"));
  EXPECT_THAT(status.message(), Not(HasSubstr("present")));
}

TEST(KvTableTest, ZeroTimeoutChecksOnce) {
  KvTable table;
  ASSERT_TRUE(table.Set("there", "x").ok());
  EXPECT_TRUE(table.Wait({"there"}, absl::ZeroDuration()).ok());
  EXPECT_EQ(table.Get("not-there", absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(KvTableTest, TimeoutMessageNamesAFewKeysAndCountsTheRest) {
  KvTable table;
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back("k" + std::to_string(i));
  const absl::Status status = table.Wait(keys, absl::ZeroDuration());
  EXPECT_THAT(status.message(), HasSubstr("k0, k1"));
  EXPECT_THAT(status.message(), HasSubstr("(and 12 more)"));
  EXPECT_THAT(status.message(), Not(HasSubstr("k19")));
}

TEST(KvTableTest, DeletePrefixDropsOnlyThatGeneration) {
  KvTable table;
  for (const char* key : {"job/a/gen/1/x", "job/a/gen/1/y", "job/a/gen/10/x", "job/b/gen/1/x"}) {
    ASSERT_TRUE(table.Set(key, "v").ok());
  }
  absl::StatusOr<size_t> deleted = table.DeletePrefix("job/a/gen/1/");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(table.MissingKeys({"job/a/gen/1/x", "job/a/gen/10/x", "job/b/gen/1/x"}),
            std::vector<std::string>{"job/a/gen/1/x"});
  EXPECT_EQ(table.total_bytes(),
            std::string("job/a/gen/10/xv").size() + std::string("job/b/gen/1/xv").size());
  EXPECT_EQ(*table.DeletePrefix("job/none/"), 0u);
}

TEST(KvTableTest, DeletePrefixRefusesAnEmptyPrefix) {
  KvTable table;
  ASSERT_TRUE(table.Set("k", "v").ok());
  const absl::StatusOr<size_t> deleted = table.DeletePrefix("");
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(deleted.status().message(), HasSubstr("prefix is empty"));
  EXPECT_EQ(table.size(), 1u);
}

TEST(KvTableTest, CloseWakesEveryBlockedWaiterWithUnavailable) {
  KvTable table;
  constexpr int kWaiters = 3;
  std::vector<absl::Status> results(kWaiters);
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] { results[i] = table.Wait({"never"}, absl::Hours(1)); });
  }
  ASSERT_TRUE(Eventually([&] { return table.waiting() == kWaiters; }));
  table.Close();
  for (std::thread& waiter : waiters) waiter.join();
  for (const absl::Status& status : results) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  EXPECT_EQ(table.Set("k", "v").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(table.Get("k", absl::Seconds(1)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(table.DeletePrefix("k").status().code(), absl::StatusCode::kUnavailable);
}

TEST(KvTableTest, WatchFiresOnceWhenEveryKeyExists) {
  KvTable table;
  WatchRecord record;
  absl::StatusOr<KvTable::WatchId> id = table.Watch({"a", "b"}, record.Callback());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_NE(*id, KvTable::kAlreadyDone);
  ASSERT_TRUE(table.Set("a", "va").ok());
  EXPECT_EQ(record.calls, 0);
  ASSERT_TRUE(table.Set("b", "vb").ok());
  ASSERT_EQ(record.calls, 1);
  ASSERT_TRUE(record.result.ok()) << record.result.status();
  EXPECT_THAT(record.Strings(), ElementsAre("va", "vb"));
  ASSERT_TRUE(table.Set("a", "again").ok());
  EXPECT_EQ(record.calls, 1);
  EXPECT_FALSE(table.Unwatch(*id));
  EXPECT_EQ(table.waiting(), 0u);
}

TEST(KvTableTest, WatchOfExistingKeysRunsAtOnce) {
  KvTable table;
  ASSERT_TRUE(table.Set("a", "va").ok());
  WatchRecord record;
  EXPECT_EQ(*table.Watch({"a"}, record.Callback()), KvTable::kAlreadyDone);
  EXPECT_EQ(record.calls, 1);
  EXPECT_THAT(record.Strings(), ElementsAre("va"));
}

TEST(KvTableTest, UnwatchPreventsTheCallback) {
  KvTable table;
  WatchRecord record;
  const KvTable::WatchId id = *table.Watch({"a"}, record.Callback());
  EXPECT_EQ(table.waiting(), 1u);
  EXPECT_TRUE(table.Unwatch(id));
  ASSERT_TRUE(table.Set("a", "va").ok());
  EXPECT_EQ(record.calls, 0);
  EXPECT_EQ(table.waiting(), 0u);
}

TEST(KvTableTest, WatchNoticesAKeyDeletedAfterItWasSeen) {
  KvTable table;
  WatchRecord record;
  ASSERT_TRUE(table.Watch({"a", "b"}, record.Callback()).ok());
  ASSERT_TRUE(table.Set("a", "va").ok());
  ASSERT_TRUE(table.DeletePrefix("a").ok());
  ASSERT_TRUE(table.Set("b", "vb").ok());
  EXPECT_EQ(record.calls, 0);
  ASSERT_TRUE(table.Set("a", "va2").ok());
  EXPECT_EQ(record.calls, 1);
  EXPECT_THAT(record.Strings(), ElementsAre("va2", "vb"));
}

TEST(KvTableTest, WatchCallbacksMayCallBackIntoTheTable) {
  KvTable table;
  size_t size_seen = 0;
  ASSERT_TRUE(
      table
          .Watch({"a"},
                 [&](absl::StatusOr<std::vector<KvTable::Value>>) { size_seen = table.size(); })
          .ok());
  ASSERT_TRUE(table.Set("a", "va").ok());
  EXPECT_EQ(size_seen, 1u);
}

TEST(KvTableTest, CloseEndsWatchesWithUnavailableAndRefusesNewOnes) {
  KvTable table;
  WatchRecord record;
  ASSERT_TRUE(table.Watch({"a"}, record.Callback()).ok());
  table.Close();
  ASSERT_EQ(record.calls, 1);
  EXPECT_EQ(record.result.status().code(), absl::StatusCode::kUnavailable);
  WatchRecord late;
  EXPECT_EQ(table.Watch({"a"}, late.Callback()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(late.calls, 0);
}

TEST(KvTableTest, MalformedKeysAreInvalidArgumentNamingTheProblem) {
  KvTableOptions options;
  options.max_key_bytes = 16;
  KvTable table(options);
  absl::Status status = table.Set("", "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("key is empty"));

  status = table.Set("bad\nkey", "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("0x0a at offset 3"));

  status = table.Set(std::string(17, 'k'), "v");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("17 bytes; the limit is 16"));

  status = table.Wait({"ok", std::string(17, 'k')}, absl::ZeroDuration());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);

  WatchRecord record;
  EXPECT_EQ(table.Watch({"\x01"}, record.Callback()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(record.calls, 0);
  EXPECT_EQ(table.size(), 0u);
}

TEST(KvTableTest, OversizedValueIsInvalidArgument) {
  KvTableOptions options;
  options.max_value_bytes = 8;
  KvTable table(options);
  EXPECT_TRUE(table.Set("k", std::string(8, 'v')).ok());
  const absl::Status status = table.Set("k2", std::string(9, 'v'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'k2' has 9 bytes; the limit is 8"));
}

TEST(KvTableTest, FullTableIsResourceExhaustedButOverwritesStillWork) {
  KvTableOptions options;
  options.max_keys = 2;
  KvTable table(options);
  ASSERT_TRUE(table.Set("a", "1").ok());
  ASSERT_TRUE(table.Set("b", "1").ok());
  const absl::Status status = table.Set("c", "1");
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("full (2 keys)"));
  EXPECT_TRUE(table.Set("a", "2").ok());
  ASSERT_TRUE(table.DeletePrefix("b").ok());
  EXPECT_TRUE(table.Set("c", "1").ok());

  EXPECT_EQ(table.Wait({"x", "y", "z"}, absl::ZeroDuration()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KvTableTest, TotalBytesAreBounded) {
  KvTableOptions options;
  options.max_total_bytes = 10;
  KvTable table(options);
  ASSERT_TRUE(table.Set("a", "123456").ok());  // 7 bytes
  const absl::Status status = table.Set("b", "1234");
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("limit of 10 bytes"));
  EXPECT_TRUE(table.Set("a", "123456789").ok());  // a replacement counts only its own size
  EXPECT_EQ(table.total_bytes(), 10u);
}

}  // namespace
}  // namespace cosched::scheduler
