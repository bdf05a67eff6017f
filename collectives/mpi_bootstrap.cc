// File: collectives/mpi_bootstrap.cc
#include "collectives/mpi_bootstrap.h"

#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

absl::Status MpiError(absl::string_view call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return absl::InternalError(absl::StrCat(call, " failed: ", absl::string_view(text, length)));
}

// Entries travel as [u32 key length][key][u32 value length][value]...
void AppendU32(std::vector<char>& out, uint32_t v) {
  const char* p = reinterpret_cast<const char*>(&v);
  out.insert(out.end(), p, p + sizeof(v));
}

absl::Status ParseEntries(const char* data, size_t size,
                          std::map<std::string, std::vector<char>, std::less<>>& into) {
  size_t pos = 0;
  auto read_u32 = [&](uint32_t& v) {
    if (size - pos < sizeof(v)) return false;
    std::memcpy(&v, data + pos, sizeof(v));
    pos += sizeof(v);
    return true;
  };
  while (pos < size) {
    uint32_t key_len = 0, value_len = 0;
    if (!read_u32(key_len) || size - pos < key_len) break;
    std::string key(data + pos, key_len);
    pos += key_len;
    if (!read_u32(value_len) || size - pos < value_len) break;
    into[key] = std::vector<char>(data + pos, data + pos + value_len);
    pos += value_len;
  }
  if (pos != size) return absl::DataLossError("malformed rendezvous entries in MPI exchange");
  return absl::OkStatus();
}

}  // namespace

bool LaunchedByMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

absl::StatusOr<std::unique_ptr<MpiSession>> MpiSession::Init(int* argc, char*** argv) {
  int provided = 0;
  // Errors must come back as codes, not abort the job, so they can become a Status.
  if (int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided); rc != MPI_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("MPI_Init_thread failed with code ", rc));
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return std::unique_ptr<MpiSession>(new MpiSession(rank, size));
}

MpiSession::~MpiSession() { MPI_Finalize(); }

MpiExchangeStore::MpiExchangeStore(const MpiSession& /*session*/) {}

absl::Status MpiExchangeStore::Set(absl::string_view key, const std::vector<char>& value) {
  unpublished_[std::string(key)] = value;
  known_[std::string(key)] = value;
  return absl::OkStatus();
}

absl::Status MpiExchangeStore::Exchange() {
  std::vector<char> mine;
  for (const auto& [key, value] : unpublished_) {
    AppendU32(mine, static_cast<uint32_t>(key.size()));
    mine.insert(mine.end(), key.begin(), key.end());
    AppendU32(mine, static_cast<uint32_t>(value.size()));
    mine.insert(mine.end(), value.begin(), value.end());
  }
  unpublished_.clear();
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  int my_size = static_cast<int>(mine.size());
  std::vector<int> sizes(world);
  if (int rc = MPI_Allgather(&my_size, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return MpiError("MPI_Allgather", rc);
  }
  std::vector<int> offsets(world, 0);
  std::exclusive_scan(sizes.begin(), sizes.end(), offsets.begin(), 0);
  std::vector<char> all(static_cast<size_t>(offsets.back() + sizes.back()));
  if (int rc = MPI_Allgatherv(mine.data(), my_size, MPI_CHAR, all.data(), sizes.data(),
                              offsets.data(), MPI_CHAR, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return MpiError("MPI_Allgatherv", rc);
  }
  return ParseEntries(all.data(), all.size(), known_);
}

absl::Status MpiExchangeStore::Wait(const std::vector<std::string>& keys,
                                    absl::Duration /*timeout: MPI collectives have none*/) {
  auto missing = [&] {
    std::vector<absl::string_view> out;
    for (const std::string& key : keys) {
      if (!known_.contains(key)) out.push_back(key);
    }
    return out;
  };
  if (missing().empty()) return absl::OkStatus();
  RETURN_IF_ERROR(Exchange());
  if (auto still = missing(); !still.empty()) {
    return absl::NotFoundError(absl::StrCat("no MPI rank published rendezvous keys: ",
                                            absl::StrJoin(still, ", ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<char>> MpiExchangeStore::Get(absl::string_view key,
                                                        absl::Duration timeout) {
  RETURN_IF_ERROR(Wait({std::string(key)}, timeout));
  return known_.find(key)->second;
}

}  // namespace cosched::collectives
