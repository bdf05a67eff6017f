// File: fuzz/rendezvous_fuzz.cc
// The rendezvous requests (proto/rendezvous.proto) as the scheduler's RendezvousService hands
// them to its KvTable, in any order and with any keys and values. The input is a sequence of
// requests: a kind byte, a 2-byte length and that many bytes of the request's proto. Small
// table limits so that the fuzzer reaches them. Checked after each request: the table's
// limits hold, a Set that succeeded is what Get returns, DeletePrefix leaves no key with the
// prefix, every watch ends exactly once (its keys appeared, or the table closed).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proto/rendezvous.pb.h"
#include "scheduler/kv/kv_table.h"

namespace {

using cosched::scheduler::KvTable;

void Check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cosched::scheduler::KvTableOptions limits;
  limits.max_key_bytes = 64;
  limits.max_value_bytes = 256;
  limits.max_keys = 16;
  limits.max_total_bytes = 1024;
  KvTable table(limits);
  std::map<std::string, std::string> model;  // what the table should hold
  auto watches_started = std::make_shared<int>(0);
  auto watches_ended = std::make_shared<int>(0);

  size_t at = 0;
  while (at + 3 <= size) {
    const uint8_t kind = data[at] % 5;
    const size_t length = std::min<size_t>(size - at - 3, data[at + 1] | (data[at + 2] << 8));
    const uint8_t* body = data + at + 3;
    at += 3 + length;
    switch (kind) {
      case 0: {  // Set
        cosched::v1::SetRequest request;
        if (!request.ParseFromArray(body, static_cast<int>(length))) break;
        if (table.Set(request.key(), request.value()).ok()) {
          model[request.key()] = request.value();
          absl::StatusOr<std::string> got = table.Get(request.key(), absl::ZeroDuration());
          Check(got.ok() && *got == request.value());
        }
        break;
      }
      case 1: {  // Get, without waiting (the service's long poll is a Watch)
        cosched::v1::GetRequest request;
        if (!request.ParseFromArray(body, static_cast<int>(length))) break;
        (void)table.Get(request.key(), absl::ZeroDuration());
        break;
      }
      case 2: {  // Wait: as the service does it, a watch
        cosched::v1::WaitRequest request;
        if (!request.ParseFromArray(body, static_cast<int>(length))) break;
        std::vector<std::string> keys(request.keys().begin(), request.keys().end());
        absl::StatusOr<KvTable::WatchId> watch = table.Watch(
            keys,
            [watches_ended](absl::StatusOr<std::vector<KvTable::Value>>) { ++*watches_ended; });
        if (watch.ok()) ++*watches_started;
        break;
      }
      case 3: {  // DeletePrefix
        cosched::v1::DeletePrefixRequest request;
        if (!request.ParseFromArray(body, static_cast<int>(length))) break;
        absl::StatusOr<size_t> deleted = table.DeletePrefix(request.prefix());
        if (!deleted.ok()) break;
        size_t expected = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (it->first.starts_with(request.prefix())) {
            Check(!table.Get(it->first, absl::ZeroDuration()).ok());
            it = model.erase(it);
            ++expected;
          } else {
            ++it;
          }
        }
        Check(*deleted == expected);
        break;
      }
      default:
        break;
    }
    Check(table.size() == model.size());
    Check(table.size() <= limits.max_keys);
    Check(table.total_bytes() <= limits.max_total_bytes);
  }
  table.Close();  // every watch still open ends now, with UNAVAILABLE
  Check(*watches_ended == *watches_started);
  return 0;
}
