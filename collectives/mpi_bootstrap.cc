// File: collectives/mpi_bootstrap.cc
#include "collectives/mpi_bootstrap.h"

#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "collectives/gloo_group.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

using Entries = std::vector<std::pair<std::string, std::vector<char>>>;

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

std::vector<char> Encode(const Entries& entries) {
  std::vector<char> out;
  for (const auto& [key, value] : entries) {
    AppendU32(out, static_cast<uint32_t>(key.size()));
    out.insert(out.end(), key.begin(), key.end());
    AppendU32(out, static_cast<uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

absl::StatusOr<Entries> Decode(const char* data, size_t size) {
  Entries entries;
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
    entries.emplace_back(std::move(key), std::vector<char>(data + pos, data + pos + value_len));
    pos += value_len;
  }
  if (pos != size) return absl::DataLossError("malformed rendezvous entries in MPI exchange");
  return entries;
}

// One lockstep round: every rank contributes its new entries and whether it is done;
// returns everyone's entries and whether all ranks are done.
absl::StatusOr<std::pair<Entries, bool>> ExchangeRound(const Entries& mine, bool done, int world) {
  const std::vector<char> encoded = Encode(mine);
  const int header[2] = {static_cast<int>(encoded.size()), done ? 1 : 0};
  std::vector<int> headers(2 * world);
  if (int rc = MPI_Allgather(header, 2, MPI_INT, headers.data(), 2, MPI_INT, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return MpiError("MPI_Allgather", rc);
  }
  std::vector<int> sizes(world), offsets(world, 0);
  bool all_done = true;
  for (int r = 0; r < world; ++r) {
    sizes[r] = headers[2 * r];
    all_done = all_done && headers[2 * r + 1] == 1;
  }
  std::exclusive_scan(sizes.begin(), sizes.end(), offsets.begin(), 0);
  std::vector<char> all(static_cast<size_t>(offsets.back() + sizes.back()));
  if (int rc = MPI_Allgatherv(encoded.data(), header[0], MPI_CHAR, all.data(), sizes.data(),
                              offsets.data(), MPI_CHAR, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return MpiError("MPI_Allgatherv", rc);
  }
  ASSIGN_OR_RETURN(Entries entries, Decode(all.data(), all.size()));
  return std::make_pair(std::move(entries), all_done);
}

}  // namespace

bool LaunchedByMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

absl::StatusOr<std::unique_ptr<MpiSession>> MpiSession::Init(int* argc, char*** argv) {
  int provided = 0;
  if (int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided); rc != MPI_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("MPI_Init_thread failed with code ", rc));
  }
  // Errors must come back as codes, not abort the job, so they can become a Status.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return std::unique_ptr<MpiSession>(new MpiSession(rank, size));
}

MpiSession::~MpiSession() { MPI_Finalize(); }

absl::StatusOr<std::unique_ptr<CollectiveGroup>> MpiSession::CreateGroup(GroupOptions options) {
  OutboxStore store;
  options.rank = rank_;
  options.world_size = world_size_;
  options.store = &store;

  Mutex mu;
  bool connected = false;
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> result;
  std::thread connector([&] {
    auto group = collectives::CreateGroup(options);
    MutexLock lock(&mu);
    result = std::move(group);
    connected = true;
  });
  absl::Status pump_status;
  for (bool all_done = false; !all_done;) {
    bool done = false;
    {
      MutexLock lock(&mu);
      done = connected;
    }
    auto round = ExchangeRound(store.TakeOutbox(), done, world_size_);
    if (!round.ok()) {
      pump_status = round.status();
      break;  // the connector's rendezvous then times out on its own
    }
    store.Merge(round->first);
    all_done = round->second;
    // Rendezvous takes a few rounds; pause briefly between them rather than spin.
    if (!all_done && round->first.empty()) absl::SleepFor(absl::Milliseconds(1));
  }
  connector.join();
  RETURN_IF_ERROR(pump_status);
  return result;
}

absl::Status OutboxStore::Set(absl::string_view key, const std::vector<char>& value) {
  {
    MutexLock lock(&mu_);
    outbox_.emplace_back(std::string(key), value);
  }
  return entries_.Set(key, value);
}

std::vector<std::pair<std::string, std::vector<char>>> OutboxStore::TakeOutbox() {
  MutexLock lock(&mu_);
  return std::exchange(outbox_, {});
}

void OutboxStore::Merge(const std::vector<std::pair<std::string, std::vector<char>>>& entries) {
  for (const auto& [key, value] : entries) entries_.Set(key, value).IgnoreError();
}

}  // namespace cosched::collectives
