// File: common/tls/token_file.h
// Bearer tokens for clients that present no certificate (scripts, CI): a YAML file maps each
// token's SHA-256 to a client name and role, so the file can be read by the scheduler without
// holding anything that logs in by itself.
//
//   tokens:
//     - name: alice
//       role: submit
//       sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//
// A TokenTable is immutable once parsed; safe to share between threads.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls/identity.h"

namespace cosched::tls {

// 32 bytes from OpenSSL's CSPRNG as 64 lower-case hex characters.
std::string NewToken();
// The SHA-256 of `token` as 64 lower-case hex characters.
std::string TokenDigest(absl::string_view token);

class TokenTable {
 public:
  struct Entry {
    std::string name;
    Role role = Role::kRead;
    std::string sha256;  // lower-case hex
  };

  // `source_name` stands for the file in error messages, which name it, the entry's index
  // and the field: "tokens.yaml:4: field 'tokens[1].role': ...".
  static absl::StatusOr<TokenTable> Parse(absl::string_view yaml, absl::string_view source_name);
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The client whose token this is. Every entry is compared, in constant time each, so how
  // long a guess takes tells nothing about the tokens.
  std::optional<Identity> Find(absl::string_view token) const;
  size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// Adds `name` with `token`'s digest to the file at `path` (created with mode 0600 when
// missing), rewriting it atomically; refuses a name or token already there. Comments in the
// file are not kept.
absl::Status AppendToken(const std::string& path, absl::string_view name, Role role,
                         absl::string_view token);

}  // namespace cosched::tls
