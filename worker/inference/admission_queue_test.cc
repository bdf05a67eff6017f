#include "worker/inference/admission_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

AdmissionOptions Options() {
  AdmissionOptions o;
  o.preemption_bound = absl::Milliseconds(2);
  o.initial_service_per_image = absl::Milliseconds(1);
  o.service_overhead = absl::ZeroDuration();
  return o;
}

TEST(AdmissionQueueTest, ServesEarliestDeadlineFirst) {
  SimClock clock(absl::FromUnixSeconds(1000));
  AdmissionQueue<int> queue(&clock, Options());
  const absl::Time now = clock.Now();
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(50), 1, 50).ok());
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(10), 1, 10).ok());
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(30), 1, 30).ok());
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(10), 1, 11).ok());  // tie: FIFO
  std::vector<int> order;
  for (int i = 0; i < 4; ++i) {
    order.push_back(queue.PopEarliest()->item);
    queue.RecordService(1, absl::Milliseconds(1));
  }
  EXPECT_EQ(order, (std::vector<int>{10, 11, 30, 50}));
}

TEST(AdmissionQueueTest, RefusesAtOnceWhenTheDeadlineCannotBeMet) {
  SimClock clock(absl::FromUnixSeconds(1000));
  AdmissionQueue<int> queue(&clock, Options());
  const absl::Time now = clock.Now();
  // 2 ms preemption + 5 images x 1 ms > 6 ms.
  const absl::Status refused = queue.Admit(now, now + absl::Milliseconds(6), 5, 1);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("cannot meet deadline"));
  EXPECT_THAT(refused.message(), HasSubstr("service 5ms"));
  EXPECT_TRUE(queue.Admit(now, now + absl::Milliseconds(7), 5, 2).ok());
  // The queue ahead counts: another 5-image request due at 10 ms no longer fits.
  EXPECT_FALSE(queue.Admit(now, now + absl::Milliseconds(10), 5, 3).ok());
  EXPECT_EQ(queue.size(), 1u);
}

TEST(AdmissionQueueTest, NeverPushesAnAdmittedRequestPastItsDeadline) {
  SimClock clock(absl::FromUnixSeconds(1000));
  AdmissionQueue<int> queue(&clock, Options());
  const absl::Time now = clock.Now();
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(8), 5, 1).ok());  // needs 7 ms
  // Due earlier, so it would run first and make request 1 finish at 2 + 1 + 5 = 8 ms: fits.
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(4), 1, 2).ok());
  // One more early one would push request 1 to 9 ms: refused.
  const absl::Status refused = queue.Admit(now, now + absl::Milliseconds(5), 1, 3);
  EXPECT_THAT(refused.message(), HasSubstr("earlier-admitted request"));
}

TEST(AdmissionQueueTest, ServiceEstimateFollowsMeasurements) {
  SimClock clock;
  AdmissionQueue<int> queue(&clock, Options());
  EXPECT_EQ(queue.service_per_image(), absl::Milliseconds(1));
  queue.RecordService(10, absl::Milliseconds(2));  // first measurement replaces the guess
  EXPECT_EQ(queue.service_per_image(), absl::Microseconds(200));
  queue.RecordService(1, absl::Microseconds(1200));
  EXPECT_EQ(queue.service_per_image(), absl::Microseconds(300));  // 0.9 * 200 + 0.1 * 1200
}

TEST(AdmissionQueueTest, RequestInServiceDelaysNewOnes) {
  SimClock clock(absl::FromUnixSeconds(1000));
  AdmissionQueue<int> queue(&clock, Options());
  const absl::Time now = clock.Now();
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(100), 50, 1).ok());
  ASSERT_TRUE(queue.PopEarliest().has_value());  // now busy for ~50 ms
  EXPECT_FALSE(queue.Admit(now, now + absl::Milliseconds(20), 1, 2).ok());
  queue.RecordService(50, absl::Milliseconds(50));
  EXPECT_TRUE(queue.Admit(now, now + absl::Milliseconds(20), 1, 3).ok());
}

TEST(AdmissionQueueTest, BacklogIsTheRestOfTheRequestInServicePlusEveryQueuedOne) {
  SimClock clock(absl::FromUnixSeconds(1000));
  AdmissionQueue<int> queue(&clock, Options());  // 1 ms an image, no overhead
  EXPECT_EQ(queue.Backlog(), absl::ZeroDuration());
  const absl::Time now = clock.Now();
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(100), 20, 1).ok());
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(100), 5, 2).ok());
  EXPECT_EQ(queue.Backlog(), absl::Milliseconds(25));
  ASSERT_TRUE(queue.PopEarliest().has_value());  // 20 images in service
  clock.Advance(absl::Milliseconds(8));
  EXPECT_EQ(queue.Backlog(), absl::Milliseconds(12 + 5));
  clock.Advance(absl::Milliseconds(30));  // overdue by the estimate: nothing left of it
  EXPECT_EQ(queue.Backlog(), absl::Milliseconds(5));
}

TEST(AdmissionQueueTest, TheCallerServesAtOnceOnlyWhenNothingElseIsQueuedOrServed) {
  SimClock clock(absl::FromUnixSeconds(1000));
  AdmissionQueue<int> queue(&clock, Options());
  const absl::Time now = clock.Now();
  // 2 ms preemption + 5 ms service > 6 ms: not this way, and Admit says why.
  EXPECT_FALSE(queue.TryServeNow(now + absl::Milliseconds(6), 5));
  EXPECT_FALSE(queue.Admit(now, now + absl::Milliseconds(6), 5, 0).ok());

  ASSERT_TRUE(queue.TryServeNow(now + absl::Milliseconds(20), 1));
  EXPECT_FALSE(queue.TryServeNow(now + absl::Milliseconds(20), 1));  // one at a time
  ASSERT_TRUE(queue.Admit(now, now + absl::Milliseconds(20), 1, 7).ok());
  // The executor does not start the queued request while the caller still serves.
  std::atomic<bool> popped{false};
  std::thread executor([&] {
    EXPECT_EQ(queue.PopEarliest()->item, 7);
    popped = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(popped);
  queue.RecordService(1, absl::Milliseconds(1));
  executor.join();
  EXPECT_TRUE(popped);
  EXPECT_FALSE(queue.TryServeNow(now + absl::Milliseconds(20), 1));  // the executor serves
  queue.RecordService(1, absl::Milliseconds(1));
  EXPECT_TRUE(queue.TryServeNow(now + absl::Milliseconds(20), 1));
}

TEST(AdmissionQueueTest, CloseWakesWaitersAndRefusesNewWork) {
  SimClock clock;
  AdmissionQueue<int> queue(&clock, Options());
  std::thread waiter([&] { EXPECT_FALSE(queue.PopEarliest().has_value()); });
  queue.Close();
  waiter.join();
  EXPECT_EQ(queue.Admit(clock.Now(), clock.Now() + absl::Seconds(1), 1, 0).code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cosched::worker
