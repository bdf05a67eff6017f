// File: common/rendezvous_keys.h
// The rendezvous key space, shared by the side that stores keys (the scheduler's KvTable and
// RendezvousService) and the side that uses them (collectives: the stores, RendezvousClient,
// GlooGroup; the worker's membership): the prefix of one generation of one job, which keys
// are acceptable, and how messages name lists of keys.
//
// Plain functions of their arguments; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched {

// The key prefix for one generation of one job: "job/<id>/gen/<g>/". A new generation
// never reads an old one's keys because every key it uses starts with its own prefix, and
// dropping a finished generation is one DeletePrefix.
std::string GenerationPrefix(absl::string_view job_id, int64_t generation);

// Checks that `key` is non-empty printable ASCII (0x20..0x7e), the only keys the scheduler's
// rendezvous table accepts; `what` names the argument in the error ("key", "prefix").
// Clients call it before sending, so a bad key is refused locally with the same message.
absl::Status CheckKeyText(absl::string_view key, absl::string_view what = "key");

// `key` in quotes for an error message, C-escaped and cut after 80 bytes ("'job/j/...'").
std::string QuotedKey(absl::string_view key);

// "a, b, c (and 12 more)": names at most a few keys, so messages stay short when a wait
// involves thousands.
std::string KeyList(const std::vector<std::string>& keys);

// "rendezvous keys still missing after 1.5s: a, b" with at most a few names, so the message
// stays short when thousands of keys are missing.
std::string MissingKeysMessage(const std::vector<std::string>& missing, absl::Duration waited);

}  // namespace cosched
