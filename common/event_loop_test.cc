// File: common/event_loop_test.cc
#include "common/event_loop.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cosched {
namespace {

TEST(EventLoopTest, PostedHandlersRunInOrder) {
  SimClock clock;
  EventLoop loop(&clock);
  std::vector<std::string> ran;
  loop.Post("a", [&] { ran.push_back("a"); });
  loop.Post("b", [&] { ran.push_back("b"); });
  EXPECT_EQ(loop.RunDue(), 2);
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b"}));
}

TEST(EventLoopTest, TimersFireOnlyWhenVirtualTimeReachesThem) {
  SimClock clock(absl::FromUnixSeconds(0));
  EventLoop loop(&clock);
  std::vector<int> ran;
  loop.PostAfter("late", absl::Seconds(10), [&] { ran.push_back(10); });
  loop.PostAfter("early", absl::Seconds(5), [&] { ran.push_back(5); });
  EXPECT_EQ(loop.RunDue(), 0);
  ASSERT_TRUE(loop.NextDue().has_value());
  EXPECT_EQ(*loop.NextDue(), absl::FromUnixSeconds(5));
  clock.Advance(absl::Seconds(7));
  EXPECT_EQ(loop.RunDue(), 1);
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(loop.RunDue(), 1);
  EXPECT_EQ(ran, (std::vector<int>{5, 10}));
  EXPECT_FALSE(loop.NextDue().has_value());
}

TEST(EventLoopTest, HandlersPostedByHandlersRunInTheSamePass) {
  SimClock clock;
  EventLoop loop(&clock);
  int depth = 0;
  loop.Post("outer", [&] {
    loop.Post("inner", [&] { depth = 2; });
    depth = 1;
  });
  EXPECT_EQ(loop.RunDue(), 2);
  EXPECT_EQ(depth, 2);
}

// The loop takes posted events in batches and timers one at a time; a batch must not let a
// due timer jump ahead of work that an earlier timer posted for now.
TEST(EventLoopTest, EventsPostedByATimerRunBeforeTheNextDueTimer) {
  SimClock clock(absl::FromUnixSeconds(0));
  EventLoop loop(&clock);
  std::vector<std::string> ran;
  loop.PostAfter("first", absl::Seconds(1), [&] {
    ran.push_back("first");
    loop.Post("posted", [&] { ran.push_back("posted"); });
  });
  loop.PostAfter("second", absl::Seconds(2), [&] { ran.push_back("second"); });
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(loop.RunDue(), 3);
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "posted", "second"}));
}

TEST(EventLoopTest, PostedEventsRunBeforeDueTimersAndShowInNextDue) {
  SimClock clock(absl::FromUnixSeconds(0));
  EventLoop loop(&clock);
  std::vector<std::string> ran;
  loop.PostAfter("timer", absl::Seconds(1), [&] { ran.push_back("timer"); });
  clock.Advance(absl::Seconds(1));
  loop.Post("a", [&] { ran.push_back("a"); });
  loop.Post("b", [&] { ran.push_back("b"); });
  ASSERT_TRUE(loop.NextDue().has_value());
  EXPECT_EQ(*loop.NextDue(), absl::InfinitePast());
  EXPECT_EQ(loop.RunDue(), 3);
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b", "timer"}));
}

// Many threads post while the loop thread runs: every event runs once, each poster's
// events in its post order, and the stats count them all.
TEST(EventLoopTest, EventsFromManyPostersAllRunInEachPostersOrder) {
  constexpr int kPosters = 8;
  constexpr int kEach = 2000;
  EventLoop loop(RealClock::Get());
  loop.Start();
  std::vector<int> last(kPosters, -1);  // touched only by handlers, on the loop thread
  bool in_order = true;                 // likewise
  Mutex mu;
  CondVar cv;
  int done = 0;
  std::vector<std::thread> posters;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        loop.Post("post", [&, p, i] {
          in_order = in_order && last[p] == i - 1;
          last[p] = i;
          MutexLock lock(&mu);
          ++done;
          cv.SignalAll();
        });
      }
    });
  }
  for (std::thread& t : posters) t.join();
  {
    MutexLock lock(&mu);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (done < kPosters * kEach && !cv.WaitWithDeadline(&mu, deadline)) {
    }
    ASSERT_EQ(done, kPosters * kEach);
  }
  loop.Stop();  // joins the loop thread: its writes are visible from here on
  EXPECT_TRUE(in_order);
  EXPECT_EQ(last, std::vector<int>(kPosters, kEach - 1));
  EXPECT_EQ(loop.Stats().at("post").runs, kPosters * kEach);
}

TEST(EventLoopTest, KeepsPerHandlerStats) {
  SimClock clock;
  EventLoop loop(&clock);
  for (int i = 0; i < 3; ++i) loop.Post("tick", [] {});
  loop.Post("tock", [] {});
  loop.RunDue();
  const auto stats = loop.Stats();
  EXPECT_EQ(stats.at("tick").runs, 3);
  EXPECT_EQ(stats.at("tock").runs, 1);
}

TEST(EventLoopTest, ThreadRunsPostsAndTimersUntilStopped) {
  EventLoop loop(RealClock::Get());
  loop.Start();
  Mutex mu;
  CondVar cv;
  int done = 0;
  auto mark = [&] {
    MutexLock lock(&mu);
    ++done;
    cv.SignalAll();
  };
  loop.Post("now", mark);
  loop.PostAfter("soon", absl::Milliseconds(20), mark);
  {
    MutexLock lock(&mu);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (done < 2 && !cv.WaitWithDeadline(&mu, deadline)) {
    }
    EXPECT_EQ(done, 2);
  }
  loop.Stop();
  EXPECT_EQ(loop.Stats().at("soon").runs, 1);
}

}  // namespace
}  // namespace cosched
