#include "common/event_loop.h"

#include <gtest/gtest.h>

#include <string>
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
