// File: collectives/gloo_store_adapter.h
// Presents a KeyValueStore to gloo as a gloo::rendezvous::Store, with every key placed under
// one generation's prefix (job/<id>/gen/<g>/). gloo's Store interface reports failure only
// by exception, so this adapter throws gloo::IoException when the store returns an error;
// CollectiveGroup catches it where it calls into gloo. That is the only `throw` in cosched.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "collectives/key_value_store.h"
#include "gloo/common/error.h"
#include "gloo/rendezvous/store.h"

namespace cosched::collectives {

// What the adapter throws when the store fails: gloo's own exception type (so gloo unwinds
// as it does for its stores), carrying the store's Status so the caller keeps its code.
class StoreError : public gloo::IoException {
 public:
  explicit StoreError(absl::Status status)
      : gloo::IoException(status.ToString()), status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

class GlooStoreAdapter final : public gloo::rendezvous::Store {
 public:
  // `stop`: when requested, waits end at once (CANCELLED inside the thrown exception).
  GlooStoreAdapter(KeyValueStore* store, std::string prefix, absl::Duration default_timeout,
                   std::stop_token stop = {})
      : store_(store),
        prefix_(std::move(prefix)),
        default_timeout_(default_timeout),
        stop_(std::move(stop)) {}

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override;

 private:
  std::vector<std::string> Prefixed(const std::vector<std::string>& keys) const;

  KeyValueStore* const store_;
  const std::string prefix_;
  const absl::Duration default_timeout_;
  const std::stop_token stop_;
};

}  // namespace cosched::collectives
