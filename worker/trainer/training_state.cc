// File: worker/trainer/training_state.cc
#include "worker/trainer/training_state.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace cosched::worker {
namespace {

constexpr absl::string_view kMagic = "CSCHKPT1";

class Writer {
 public:
  void U32(uint32_t v) { Raw(&v, sizeof(v)); }
  void I64(int64_t v) { Raw(&v, sizeof(v)); }
  void Bytes(absl::string_view s) {
    I64(static_cast<int64_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  void Floats(const std::vector<float>& v) {
    I64(static_cast<int64_t>(v.size()));
    Raw(v.data(), v.size() * sizeof(float));
  }
  void Raw(const void* p, size_t n) {
    if (n > 0) out_.append(static_cast<const char*>(p), n);  // an empty vector's data() may be null
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(absl::string_view in, absl::string_view source) : in_(in), source_(source) {}

  absl::Status Raw(void* p, size_t n, absl::string_view what) {
    if (in_.size() - pos_ < n) {
      return absl::DataLossError(absl::StrCat(source_, ": training state truncated in ", what,
                                              " (needs ", n, " bytes at offset ", pos_, ", has ",
                                              in_.size() - pos_, ")"));
    }
    if (n > 0) std::memcpy(p, in_.data() + pos_, n);  // an empty vector's data() may be null
    pos_ += n;
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> Length(absl::string_view what, size_t element_size) {
    int64_t n = 0;
    RETURN_IF_ERROR(Raw(&n, sizeof(n), what));
    if (n < 0 || static_cast<uint64_t>(n) > (in_.size() - pos_) / element_size) {
      return absl::DataLossError(absl::StrCat(source_, ": training state field ", what, " claims ",
                                              n, " elements, more than the remaining ",
                                              in_.size() - pos_, " bytes"));
    }
    return n;
  }
  absl::Status Bytes(std::string& s, absl::string_view what) {
    ASSIGN_OR_RETURN(const int64_t n, Length(what, 1));
    s.assign(in_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return absl::OkStatus();
  }
  absl::Status Floats(std::vector<float>& v, absl::string_view what) {
    ASSIGN_OR_RETURN(const int64_t n, Length(what, sizeof(float)));
    v.resize(static_cast<size_t>(n));
    return Raw(v.data(), v.size() * sizeof(float), what);
  }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  absl::string_view in_;
  absl::string_view source_;
  size_t pos_ = 0;
};

uint32_t Crc32(absl::string_view data) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

}  // namespace

std::string MlpFingerprint(const std::vector<int>& layer_sizes, absl::string_view optimizer) {
  return absl::StrCat("mlp:", absl::StrJoin(layer_sizes, "-"), "/", optimizer);
}

absl::StatusOr<std::vector<int>> FingerprintLayerSizes(absl::string_view fingerprint) {
  absl::string_view rest = fingerprint;
  const auto not_mlp = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("fingerprint '", fingerprint, "' is not an MLP's: ", why));
  };
  if (!absl::ConsumePrefix(&rest, "mlp:")) return not_mlp("no 'mlp:' prefix");
  rest = rest.substr(0, rest.find('/'));  // the optimizer does not shape the weights
  std::vector<int> sizes;
  for (absl::string_view size : absl::StrSplit(rest, '-')) {
    int value = 0;
    if (!absl::SimpleAtoi(size, &value) || value <= 0) {
      return not_mlp(absl::StrCat("layer size '", size, "' is not a positive integer"));
    }
    sizes.push_back(value);
  }
  if (sizes.size() < 2) return not_mlp("fewer than 2 layer sizes");
  return sizes;
}

std::string EncodeTrainingState(const TrainingState& state) {
  Writer w;
  w.Raw(kMagic.data(), kMagic.size());
  w.U32(kTrainingStateVersion);
  w.Bytes(state.fingerprint);
  w.I64(state.step);
  w.I64(state.epoch);
  w.Floats(state.parameters);
  w.Floats(state.optimizer_state);
  w.I64(state.optimizer_steps);
  w.Bytes(state.lease_table);
  w.Bytes(state.rng);
  w.U32(Crc32(w.out()));
  return std::move(w.out());
}

absl::StatusOr<TrainingState> DecodeTrainingState(absl::string_view bytes,
                                                  absl::string_view source) {
  if (bytes.size() < kMagic.size() + 2 * sizeof(uint32_t) ||
      bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError(absl::StrCat(source, ": not a cosched training state (bad magic)"));
  }
  const absl::string_view body = bytes.substr(0, bytes.size() - sizeof(uint32_t));
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + body.size(), sizeof(stored_crc));
  if (Crc32(body) != stored_crc) {
    return absl::DataLossError(
        absl::StrCat(source, ": training state checksum mismatch (corrupt or truncated)"));
  }
  Reader r(body.substr(kMagic.size()), source);
  uint32_t version = 0;
  RETURN_IF_ERROR(r.Raw(&version, sizeof(version), "version"));
  if (version != kTrainingStateVersion) {
    return absl::FailedPreconditionError(absl::StrCat(source, ": training state version ", version,
                                                      " is not supported (expected ",
                                                      kTrainingStateVersion, ")"));
  }
  TrainingState state;
  RETURN_IF_ERROR(r.Bytes(state.fingerprint, "fingerprint"));
  RETURN_IF_ERROR(r.Raw(&state.step, sizeof(state.step), "step"));
  RETURN_IF_ERROR(r.Raw(&state.epoch, sizeof(state.epoch), "epoch"));
  RETURN_IF_ERROR(r.Floats(state.parameters, "parameters"));
  RETURN_IF_ERROR(r.Floats(state.optimizer_state, "optimizer_state"));
  RETURN_IF_ERROR(r.Raw(&state.optimizer_steps, sizeof(state.optimizer_steps), "optimizer_steps"));
  RETURN_IF_ERROR(r.Bytes(state.lease_table, "lease_table"));
  RETURN_IF_ERROR(r.Bytes(state.rng, "rng"));
  if (r.remaining() != 0) {
    return absl::DataLossError(
        absl::StrCat(source, ": ", r.remaining(), " unexpected bytes after the training state"));
  }
  return state;
}

}  // namespace cosched::worker
