// File: common/tls/token_file.cc
// Parsing goes through ConfigNode (common/config.h), the one place yaml-cpp's exceptions are
// caught, so errors read like every other config error: file, line, field path, reason.
#include "common/tls/token_file.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/posix_io.h"
#include "common/status_macros.h"
#include "common/tls/cert_authority.h"

namespace cosched::tls {
namespace {

constexpr size_t kDigestHexSize = 64;

bool IsHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<TokenTable::Entry> ParseEntry(const ConfigNode& item) {
  RETURN_IF_ERROR(item.RejectUnknownKeys({"name", "role", "sha256"}));
  TokenTable::Entry entry;
  ASSIGN_OR_RETURN(entry.name, item.String("name", ""));
  if (!item.Has("name")) return item.Error("name", "missing");
  if (absl::Status s = CheckIdentityName(entry.name, "the name"); !s.ok()) {
    return item.Error("name", s.message());
  }
  ASSIGN_OR_RETURN(const std::string role, item.String("role", ""));
  if (!item.Has("role")) return item.Error("role", "missing");
  absl::StatusOr<Role> parsed_role = ParseRole(role);
  if (!parsed_role.ok()) return item.Error("role", parsed_role.status().message());
  entry.role = *parsed_role;
  ASSIGN_OR_RETURN(entry.sha256, item.String("sha256", ""));
  if (!item.Has("sha256")) return item.Error("sha256", "missing");
  if (entry.sha256.size() != kDigestHexSize || !IsHex(entry.sha256)) {
    return item.Error("sha256", "must be 64 hex characters (the SHA-256 of the token)");
  }
  absl::AsciiStrToLower(&entry.sha256);
  return entry;
}

// The file's text for `entries`. Names are quoted so that one such as "true" or "1e3" stays
// a string for every YAML reader; CheckIdentityName leaves nothing that needs escaping.
std::string Render(const std::vector<TokenTable::Entry>& entries) {
  std::string out =
      "# cosched client tokens: the SHA-256 of each token, never the token itself.\n"
      "# Add one with `coschedctl certs token NAME --role read|submit|admin`.\n"
      "tokens:\n";
  for (const TokenTable::Entry& entry : entries) {
    absl::StrAppend(&out, "  - name: \"", entry.name, "\"\n    role: ", RoleName(entry.role),
                    "\n    sha256: ", entry.sha256, "\n");
  }
  return out;
}

}  // namespace

std::string NewToken() {
  unsigned char bytes[32];
  // Failing to draw from the CSPRNG means the process cannot do any cryptography at all.
  COSCHED_CHECK(RAND_bytes(bytes, sizeof(bytes)) == 1, "RAND_bytes failed");
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::string TokenDigest(absl::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  COSCHED_CHECK(EVP_Digest(token.data(), token.size(), digest, &size, EVP_sha256(), nullptr) == 1,
                "EVP_Digest(SHA-256) failed");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), size));
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view yaml,
                                             absl::string_view source_name) {
  ASSIGN_OR_RETURN(const ConfigNode root, ConfigNode::LoadString(yaml, std::string(source_name)));
  RETURN_IF_ERROR(root.RejectUnknownKeys({"tokens"}));
  ASSIGN_OR_RETURN(const std::vector<ConfigNode> items, root.List("tokens"));
  TokenTable table;
  for (const ConfigNode& item : items) {
    ASSIGN_OR_RETURN(Entry entry, ParseEntry(item));
    for (size_t i = 0; i < table.entries_.size(); ++i) {
      if (table.entries_[i].name == entry.name) {
        return item.Error("name", absl::StrCat("'", entry.name, "' is already entry ", i));
      }
      if (table.entries_[i].sha256 == entry.sha256) {
        return item.Error("sha256", absl::StrCat("the same token as entry ", i, " ('",
                                                 table.entries_[i].name, "')"));
      }
    }
    table.entries_.push_back(std::move(entry));
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    return absl::Status(absl::ErrnoToStatusCode(error),
                        absl::StrCat("cannot open '", path, "': ", std::strerror(error)));
  }
  std::string text;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return absl::DataLossError(absl::StrCat("cannot read '", path, "'"));
  return Parse(text, path);
}

std::optional<Identity> TokenTable::Find(absl::string_view token) const {
  const std::string digest = TokenDigest(token);
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.sha256.data(), digest.data(), kDigestHexSize) == 0) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return ClientIdentity(found->role, found->name);
}

absl::Status AppendToken(const std::string& path, absl::string_view name, Role role,
                         absl::string_view token) {
  RETURN_IF_ERROR(CheckIdentityName(name, "the token's name"));
  std::vector<TokenTable::Entry> entries;
  if (::access(path.c_str(), F_OK) == 0) {
    ASSIGN_OR_RETURN(const TokenTable table, TokenTable::Load(path));
    entries = table.entries();
  } else if (errno != ENOENT) {
    return absl::InternalError(
        absl::StrCat("cannot look for '", path, "': ", std::strerror(errno)));
  }
  const std::string digest = TokenDigest(token);
  for (const TokenTable::Entry& entry : entries) {
    if (entry.name == name) {
      return absl::AlreadyExistsError(absl::StrCat("'", path, "' already has a token named '", name,
                                                   "' (remove its entry to replace it)"));
    }
    if (entry.sha256 == digest) {
      return absl::AlreadyExistsError(
          absl::StrCat("'", path, "' already has this token, named '", entry.name, "'"));
    }
  }
  entries.push_back({std::string(name), role, digest});
  return WriteFileAtomically(path, Render(entries), 0600);
}

}  // namespace cosched::tls
