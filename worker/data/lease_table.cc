// File: worker/data/lease_table.cc
// LeaseTable: deterministic shuffles, lease bookkeeping and the versioned, CRC-checked
// serialization format (see Serialize() below for the layout).
#include "worker/data/lease_table.h"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace cosched::worker {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }

// Domain tags, so the shard order and the in-shard orders use unrelated streams.
constexpr uint64_t kShardOrderTag = 0x5348415244'4f5244ULL;  // "SHARDORD"
constexpr uint64_t kSampleOrderTag = 0x53414d50'4c45ULL;     // "SAMPLE"

// Uniform in [0, n) for n >= 1, by rejection: portable, unlike std::uniform_int_distribution.
uint64_t Bounded(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  while (true) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// Fisher-Yates with Bounded(); identical on every platform for the same seed.
void Shuffle(std::vector<uint32_t>& v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(Bounded(rng, i));
    std::swap(v[i - 1], v[j]);
  }
}

// ---- Serialization helpers (little-endian) ----

constexpr char kMagic[4] = {'C', 'S', 'L', 'T'};
constexpr uint32_t kVersion = 1;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

class ByteReader {
 public:
  explicit ByteReader(absl::string_view bytes) : bytes_(bytes) {}
  size_t remaining() const { return bytes_.size() - pos_; }
  bool U32(uint32_t* v) { return Fixed(v, 4); }
  bool U64(uint64_t* v) { return Fixed(v, 8); }

 private:
  template <typename T>
  bool Fixed(T* v, size_t n) {
    if (remaining() < n) return false;
    T x = 0;
    for (size_t i = 0; i < n; ++i) {
      x |= static_cast<T>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    }
    pos_ += n;
    *v = x;
    return true;
  }

  absl::string_view bytes_;
  size_t pos_ = 0;
};

uint32_t Crc32(absl::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32_z takes a size_t length (zlib >= 1.2.9).
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
  return static_cast<uint32_t>(crc);
}

absl::Status Corrupt(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("lease table state: ", why));
}

}  // namespace

LeaseTable::LeaseTable(uint64_t num_samples, uint32_t shard_size, uint64_t seed)
    : num_samples_(num_samples),
      shard_size_(shard_size),
      seed_(seed),
      num_shards_((num_samples + shard_size - 1) / shard_size) {}

absl::Status LeaseTable::Validate(uint64_t num_samples, uint32_t shard_size) {
  if (num_samples == 0 || num_samples > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("num_samples = ", num_samples,
                                                   ", must be in [1, ",
                                                   std::numeric_limits<uint32_t>::max(), "]"));
  }
  if (shard_size == 0) return absl::InvalidArgumentError("shard_size = 0, must be >= 1");
  const uint64_t shards = (num_samples + shard_size - 1) / shard_size;
  if (shards > kMaxShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_samples = ", num_samples, " in shards of ", shard_size, " gives ", shards,
                     " shards, more than ", kMaxShards, "; use a larger shard_size"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LeaseTable> LeaseTable::Create(uint64_t num_samples, uint32_t shard_size,
                                              uint64_t seed) {
  if (absl::Status s = Validate(num_samples, shard_size); !s.ok()) return s;
  LeaseTable table(num_samples, shard_size, seed);
  table.StartEpoch(0);
  return table;
}

void LeaseTable::StartEpoch(int64_t epoch) {
  COSCHED_CHECK(returned_.empty() && ranks_.empty(), "epoch {} starts with leases out", epoch);
  epoch_ = epoch;
  consumed_ = 0;
  next_shard_ = 0;
  order_.resize(num_shards_);
  for (uint64_t i = 0; i < num_shards_; ++i) order_[i] = static_cast<uint32_t>(i);
  Shuffle(order_, Mix(Mix(seed_, static_cast<uint64_t>(epoch)), kShardOrderTag));
}

uint32_t LeaseTable::ShardLength(uint32_t shard) const {
  const uint64_t begin = uint64_t{shard} * shard_size_;
  return static_cast<uint32_t>(std::min<uint64_t>(shard_size_, num_samples_ - begin));
}

std::vector<uint32_t> LeaseTable::ShardSamples(uint32_t shard) const {
  const uint32_t begin = static_cast<uint32_t>(uint64_t{shard} * shard_size_);
  std::vector<uint32_t> samples(ShardLength(shard));
  for (uint32_t i = 0; i < samples.size(); ++i) samples[i] = begin + i;
  Shuffle(samples,
          Mix(Mix(Mix(seed_, static_cast<uint64_t>(epoch_)), kSampleOrderTag), uint64_t{shard}));
  return samples;
}

bool LeaseTable::TakeFromQueue(Lease* lease) {
  if (!returned_.empty()) {
    *lease = returned_.front();
    returned_.pop_front();
    return true;
  }
  if (next_shard_ < num_shards_) {
    *lease = Lease{order_[next_shard_++], 0};
    return true;
  }
  return false;
}

std::vector<uint32_t> LeaseTable::Plan(int rank, uint32_t count) {
  COSCHED_CHECK(rank >= 0, "Plan for rank {} < 0", rank);
  if (epoch_done()) StartEpoch(epoch_ + 1);
  std::vector<uint32_t> out;
  out.reserve(std::min<uint64_t>(count, num_samples_ - consumed_));
  RankState& state = ranks_[rank];
  for (size_t i = 0; out.size() < count; ++i) {
    if (i == state.leases.size()) {
      Lease lease;
      if (!TakeFromQueue(&lease)) break;
      state.leases.push_back(lease);
    }
    const Lease& lease = state.leases[i];
    const std::vector<uint32_t> samples = ShardSamples(lease.shard);
    const size_t take = std::min<size_t>(samples.size() - lease.offset, count - out.size());
    out.insert(out.end(), samples.begin() + lease.offset, samples.begin() + lease.offset + take);
  }
  state.planned = static_cast<uint32_t>(out.size());
  if (state.leases.empty()) ranks_.erase(rank);
  return out;
}

void LeaseTable::ApplyCommit(std::map<int, RankState>::iterator it, uint32_t done) {
  RankState& state = it->second;
  const bool short_step = done < state.planned;
  consumed_ += done;
  while (done > 0) {
    Lease& lease = state.leases.front();
    const uint32_t left = ShardLength(lease.shard) - lease.offset;
    if (done >= left) {
      done -= left;
      state.leases.pop_front();
    } else {
      lease.offset += done;
      done = 0;
    }
  }
  state.planned = 0;
  if (short_step) {
    returned_.insert(returned_.end(), state.leases.begin(), state.leases.end());
    state.leases.clear();
  }
  if (state.leases.empty()) ranks_.erase(it);
}

absl::Status LeaseTable::Commit(int rank, uint32_t done) {
  auto it = ranks_.find(rank);
  const uint32_t planned = it == ranks_.end() ? 0 : it->second.planned;
  if (done > planned) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " reports ", done, " samples done but its plan had ", planned));
  }
  if (it != ranks_.end()) ApplyCommit(it, done);
  return absl::OkStatus();
}

std::vector<std::vector<uint32_t>> LeaseTable::PlanStep(const std::vector<uint32_t>& counts) {
  std::vector<std::vector<uint32_t>> plans;
  plans.reserve(counts.size());
  for (size_t r = 0; r < counts.size(); ++r) plans.push_back(Plan(static_cast<int>(r), counts[r]));
  return plans;
}

absl::Status LeaseTable::CommitStep(const std::vector<uint32_t>& done) {
  for (size_t r = 0; r < done.size(); ++r) {
    auto it = ranks_.find(static_cast<int>(r));
    const uint32_t planned = it == ranks_.end() ? 0 : it->second.planned;
    if (done[r] > planned) {
      return absl::InvalidArgumentError(absl::StrCat("rank ", r, " reports ", done[r],
                                                     " samples done but its plan had ", planned));
    }
  }
  for (const auto& [rank, state] : ranks_) {
    if (static_cast<size_t>(rank) >= done.size() && state.planned > 0) {
      return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " has a plan of ",
                                                     state.planned, " samples but only ",
                                                     done.size(), " ranks reported"));
    }
  }
  for (size_t r = 0; r < done.size(); ++r) {
    auto it = ranks_.find(static_cast<int>(r));
    if (it != ranks_.end()) ApplyCommit(it, done[r]);
  }
  return absl::OkStatus();
}

std::vector<uint32_t> LeaseTable::Unconsumed() const {
  std::vector<uint32_t> out;
  out.reserve(num_samples_ - consumed_);
  auto add_rest = [&](const Lease& lease) {
    const std::vector<uint32_t> samples = ShardSamples(lease.shard);
    out.insert(out.end(), samples.begin() + lease.offset, samples.end());
  };
  for (const Lease& lease : returned_) add_rest(lease);
  for (const auto& [rank, state] : ranks_) {
    for (const Lease& lease : state.leases) add_rest(lease);
  }
  for (uint64_t i = next_shard_; i < num_shards_; ++i) add_rest(Lease{order_[i], 0});
  std::sort(out.begin(), out.end());
  return out;
}

void LeaseTable::ReleaseRank(int rank) {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return;
  returned_.insert(returned_.end(), it->second.leases.begin(), it->second.leases.end());
  ranks_.erase(it);
}

void LeaseTable::ReleaseAll() {
  while (!ranks_.empty()) ReleaseRank(ranks_.begin()->first);
}

absl::Status LeaseTable::Remap(const std::vector<int>& new_rank_of_old) {
  std::set<int> taken;
  for (size_t old = 0; old < new_rank_of_old.size(); ++old) {
    const int nr = new_rank_of_old[old];
    if (nr < -1) {
      return absl::InvalidArgumentError(
          absl::StrCat("Remap: new rank of old rank ", old, " is ", nr, ", must be >= -1"));
    }
    if (nr != -1 && !taken.insert(nr).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Remap: new rank ", nr, " is given to more than one old rank"));
    }
  }
  if (!ranks_.empty() && static_cast<size_t>(ranks_.rbegin()->first) >= new_rank_of_old.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Remap: rank ", ranks_.rbegin()->first,
                                                   " holds leases but the mapping covers only ",
                                                   new_rank_of_old.size(), " ranks"));
  }
  std::map<int, RankState> renamed;
  for (auto& [old, state] : ranks_) {
    const int nr = new_rank_of_old[old];
    if (nr == -1) {
      returned_.insert(returned_.end(), state.leases.begin(), state.leases.end());
    } else {
      renamed.emplace(nr, std::move(state));
    }
  }
  ranks_ = std::move(renamed);
  return absl::OkStatus();
}

uint64_t LeaseTable::leased_to(int rank) const {
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return 0;
  uint64_t total = 0;
  for (const Lease& lease : it->second.leases) total += ShardLength(lease.shard) - lease.offset;
  return total;
}

// Layout, all integers little-endian:
//   "CSLT" u32:version(1) u64:num_samples u32:shard_size u64:seed u64:epoch u64:consumed
//   u64:next_shard u32:num_returned {u32:shard u32:offset}*num_returned
//   u32:num_ranks {u32:rank u32:planned u32:num_leases {u32:shard u32:offset}*num_leases}*
//   u32:crc32 of all preceding bytes
std::string LeaseTable::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  PutU32(out, kVersion);
  PutU64(out, num_samples_);
  PutU32(out, shard_size_);
  PutU64(out, seed_);
  PutU64(out, static_cast<uint64_t>(epoch_));
  PutU64(out, consumed_);
  PutU64(out, next_shard_);
  PutU32(out, static_cast<uint32_t>(returned_.size()));
  for (const Lease& lease : returned_) {
    PutU32(out, lease.shard);
    PutU32(out, lease.offset);
  }
  PutU32(out, static_cast<uint32_t>(ranks_.size()));
  for (const auto& [rank, state] : ranks_) {
    PutU32(out, static_cast<uint32_t>(rank));
    PutU32(out, state.planned);
    PutU32(out, static_cast<uint32_t>(state.leases.size()));
    for (const Lease& lease : state.leases) {
      PutU32(out, lease.shard);
      PutU32(out, lease.offset);
    }
  }
  PutU32(out, Crc32(out));
  return out;
}

absl::StatusOr<LeaseTable> LeaseTable::Deserialize(absl::string_view bytes) {
  constexpr size_t kMinSize = sizeof(kMagic) + 4 + 4;
  if (bytes.size() < kMinSize) {
    return Corrupt(absl::StrCat("only ", bytes.size(), " bytes, need at least ", kMinSize));
  }
  if (bytes.substr(0, sizeof(kMagic)) != absl::string_view(kMagic, sizeof(kMagic))) {
    return Corrupt("bad magic, not a serialized LeaseTable");
  }
  ByteReader reader(bytes.substr(sizeof(kMagic)));
  uint32_t version = 0;
  reader.U32(&version);
  if (version != kVersion) {
    return Corrupt(
        absl::StrCat("version ", version, " is not supported (expected ", kVersion, ")"));
  }
  const absl::string_view body = bytes.substr(0, bytes.size() - 4);
  uint32_t stored_crc = 0;
  ByteReader(bytes.substr(bytes.size() - 4)).U32(&stored_crc);
  if (stored_crc != Crc32(body)) return Corrupt("CRC-32 mismatch (corrupt or truncated)");
  reader = ByteReader(body.substr(sizeof(kMagic) + 4));

  uint64_t num_samples = 0, seed = 0, epoch = 0, consumed = 0, next_shard = 0;
  uint32_t shard_size = 0;
  if (!reader.U64(&num_samples) || !reader.U32(&shard_size) || !reader.U64(&seed) ||
      !reader.U64(&epoch) || !reader.U64(&consumed) || !reader.U64(&next_shard)) {
    return Corrupt("truncated header");
  }
  if (absl::Status s = Validate(num_samples, shard_size); !s.ok()) return Corrupt(s.message());
  if (epoch > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Corrupt(absl::StrCat("epoch ", epoch, " out of range"));
  }
  LeaseTable table(num_samples, shard_size, seed);
  table.StartEpoch(static_cast<int64_t>(epoch));
  if (next_shard > table.num_shards_) {
    return Corrupt(absl::StrCat("next_shard ", next_shard, " > num_shards ", table.num_shards_));
  }
  table.next_shard_ = next_shard;
  table.consumed_ = consumed;

  // Shards already dealt this epoch; each may appear in at most one lease.
  std::vector<uint8_t> dealt(table.num_shards_, 0);  // 0: not dealt, 1: dealt, 2: leased
  uint64_t dealt_samples = 0;
  for (uint64_t i = 0; i < next_shard; ++i) {
    dealt[table.order_[i]] = 1;
    dealt_samples += table.ShardLength(table.order_[i]);
  }
  uint64_t outstanding = 0;
  auto read_leases = [&](uint32_t n, std::deque<Lease>& leases) -> absl::Status {
    if (reader.remaining() / 8 < n)
      return Corrupt(absl::StrCat("truncated list of ", n, " leases"));
    for (uint32_t i = 0; i < n; ++i) {
      Lease lease;
      reader.U32(&lease.shard);
      reader.U32(&lease.offset);
      if (lease.shard >= table.num_shards_) {
        return Corrupt(
            absl::StrCat("lease on shard ", lease.shard, " >= num_shards ", table.num_shards_));
      }
      if (dealt[lease.shard] != 1) {
        return Corrupt(
            absl::StrCat("lease on shard ", lease.shard,
                         dealt[lease.shard] == 0 ? " that was not dealt yet" : " held twice"));
      }
      dealt[lease.shard] = 2;
      const uint32_t length = table.ShardLength(lease.shard);
      if (lease.offset >= length) {
        return Corrupt(absl::StrCat("lease on shard ", lease.shard, " has offset ", lease.offset,
                                    " but the shard has ", length, " samples"));
      }
      outstanding += length - lease.offset;
      leases.push_back(lease);
    }
    return absl::OkStatus();
  };

  uint32_t num_returned = 0;
  if (!reader.U32(&num_returned)) return Corrupt("truncated returned-lease count");
  if (absl::Status s = read_leases(num_returned, table.returned_); !s.ok()) return s;
  uint32_t num_ranks = 0;
  if (!reader.U32(&num_ranks)) return Corrupt("truncated rank count");
  if (reader.remaining() / 12 < num_ranks) {
    return Corrupt(absl::StrCat("truncated list of ", num_ranks, " ranks"));
  }
  int64_t previous_rank = -1;
  for (uint32_t i = 0; i < num_ranks; ++i) {
    uint32_t rank = 0, planned = 0, num_leases = 0;
    if (!reader.U32(&rank) || !reader.U32(&planned) || !reader.U32(&num_leases)) {
      return Corrupt("truncated rank entry");
    }
    if (rank > static_cast<uint32_t>(std::numeric_limits<int>::max()) ||
        static_cast<int64_t>(rank) <= previous_rank) {
      return Corrupt(absl::StrCat("rank ", rank, " out of order or out of range"));
    }
    previous_rank = rank;
    RankState& state = table.ranks_[static_cast<int>(rank)];
    const uint64_t before = outstanding;
    if (absl::Status s = read_leases(num_leases, state.leases); !s.ok()) return s;
    if (num_leases == 0) return Corrupt(absl::StrCat("rank ", rank, " holds no leases"));
    if (planned > outstanding - before) {
      return Corrupt(absl::StrCat("rank ", rank, " planned ", planned, " samples but holds ",
                                  outstanding - before));
    }
    state.planned = planned;
  }
  if (reader.remaining() != 0) {
    return Corrupt(absl::StrCat(reader.remaining(), " unexpected bytes after the last rank"));
  }
  if (consumed != dealt_samples - outstanding) {
    return Corrupt(absl::StrCat("consumed_in_epoch ", consumed, " does not match the leases (",
                                dealt_samples, " samples dealt, ", outstanding, " still leased)"));
  }
  return table;
}

}  // namespace cosched::worker
