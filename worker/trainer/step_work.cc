// File: worker/trainer/step_work.cc
#include "worker/trainer/step_work.h"

#include <algorithm>

namespace cosched::worker {
namespace {

constexpr uint64_t kClaimedMask = (uint64_t{1} << 32) - 1;
constexpr uint64_t kHelpBit = uint64_t{1} << 32;
constexpr int kTagShift = 33;
constexpr uint64_t kTagMask = (uint64_t{1} << (64 - kTagShift)) - 1;

}  // namespace

StepWork::StepWork(const std::vector<std::atomic<uint64_t>*>& cells, int64_t step,
                   std::vector<size_t> plan_sizes)
    : cells_(cells),
      // Tag 0 is what a fresh segment holds; steps start at 0, so tag step + 1.
      tag_((static_cast<uint64_t>(step) + 1) & kTagMask),
      plan_sizes_(std::move(plan_sizes)) {
  cells_.resize(plan_sizes_.size(), nullptr);
  local_cell_.resize(plan_sizes_.size());
  for (size_t plan = 0; plan < cells_.size(); ++plan) {
    if (cells_[plan] != nullptr) continue;
    local_cell_[plan] = std::make_unique<std::atomic<uint64_t>>(0);
    cells_[plan] = local_cell_[plan].get();
  }
}

StepWork::Cell StepWork::Read(uint64_t raw) const {
  if ((raw >> kTagShift) != tag_) return Cell{0, false};
  return Cell{raw & kClaimedMask, (raw & kHelpBit) != 0};
}

uint64_t StepWork::Encode(uint64_t claimed, bool help) const {
  return (tag_ << kTagShift) | (help ? kHelpBit : 0) | claimed;
}

std::pair<size_t, size_t> StepWork::Claim(int plan, size_t count) {
  std::atomic<uint64_t>& cell = *cells_[plan];
  const uint64_t size = plan_sizes_[plan];
  uint64_t raw = cell.load(std::memory_order_acquire);
  while (true) {
    const Cell now = Read(raw);
    if (now.claimed >= size) return {size, size};
    const uint64_t take = std::min<uint64_t>(count, size - now.claimed);
    if (cell.compare_exchange_weak(raw, Encode(now.claimed + take, now.help),
                                   std::memory_order_acq_rel, std::memory_order_acquire)) {
      return {now.claimed, now.claimed + take};
    }
  }
}

void StepWork::AskForHelp(int plan) {
  std::atomic<uint64_t>& cell = *cells_[plan];
  uint64_t raw = cell.load(std::memory_order_acquire);
  while (!cell.compare_exchange_weak(raw, Encode(Read(raw).claimed, true),
                                     std::memory_order_acq_rel, std::memory_order_acquire)) {
  }
}

bool StepWork::WantsHelp(int plan) const {
  const Cell now = Read(cells_[plan]->load(std::memory_order_acquire));
  return now.help && now.claimed < plan_sizes_[plan];
}

}  // namespace cosched::worker
