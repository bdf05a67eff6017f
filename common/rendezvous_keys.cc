// File: common/rendezvous_keys.cc
#include "common/rendezvous_keys.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched {
namespace {

// How many keys a message names before it just counts the rest.
constexpr size_t kNamedKeys = 8;
// How much of a key an error message quotes.
constexpr size_t kQuotedKeyBytes = 80;

}  // namespace

std::string QuotedKey(absl::string_view key) {
  if (key.size() <= kQuotedKeyBytes) return absl::StrCat("'", absl::CHexEscape(key), "'");
  return absl::StrCat("'", absl::CHexEscape(key.substr(0, kQuotedKeyBytes)), "...'");
}

std::string GenerationPrefix(absl::string_view job_id, int64_t generation) {
  return absl::StrCat("job/", job_id, "/gen/", generation, "/");
}

absl::Status CheckKeyText(absl::string_view key, absl::string_view what) {
  if (key.empty())
    return absl::InvalidArgumentError(absl::StrCat("rendezvous ", what, " is empty"));
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rendezvous ", what, " ", QuotedKey(key), " has byte 0x", absl::Hex(c, absl::kZeroPad2),
          " at offset ", i, "; keys are printable ASCII (0x20..0x7e)"));
    }
  }
  return absl::OkStatus();
}

std::string KeyList(const std::vector<std::string>& keys) {
  const size_t named = std::min(keys.size(), kNamedKeys);
  std::string list = absl::StrJoin(keys.begin(), keys.begin() + named, ", ");
  if (keys.size() > named) absl::StrAppend(&list, " (and ", keys.size() - named, " more)");
  return list;
}

std::string MissingKeysMessage(const std::vector<std::string>& missing, absl::Duration waited) {
  return absl::StrCat("rendezvous keys still missing after ", absl::FormatDuration(waited), ": ",
                      KeyList(missing));
}

}  // namespace cosched
