// File: collectives/memory_store.h
// InMemoryStore: a KeyValueStore for ranks that are threads of one process (tests).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "collectives/key_value_store.h"
#include "common/mutex.h"

namespace cosched::collectives {

class InMemoryStore final : public KeyValueStore {
 public:
  absl::Status Set(absl::string_view key, const std::vector<char>& value) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<char>> Get(absl::string_view key, absl::Duration timeout) override
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  CondVar changed_;
  std::map<std::string, std::vector<char>, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::collectives
