// File: worker/trainer/training_state.h
// TrainingState: everything needed to continue a training run exactly where it stopped:
// parameters, optimizer state, step and epoch, the data-lease table and the RNG state. It
// has one binary encoding, used both for checkpoint files and for the state the lowest
// surviving rank broadcasts to the others after a membership change.
//
// Encoding (little-endian): "CSCHKPT1" | u32 version | fields... | u32 crc32 of all before.
// Decoding checks the magic, version, every length and the checksum, and names what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::worker {

struct TrainingState {
  // Identifies the model and optimizer the state belongs to (e.g. "mlp:784-256-128-10/adam");
  // a checkpoint of another job is refused rather than loaded into the wrong shapes.
  std::string fingerprint;
  int64_t step = 0;
  int64_t epoch = 0;
  std::vector<float> parameters;
  std::vector<float> optimizer_state;
  int64_t optimizer_steps = 0;
  std::string lease_table;  // LeaseTable::Serialize()
  std::string rng;          // the trainer's RNG state, as text

  bool operator==(const TrainingState&) const = default;
};

inline constexpr uint32_t kTrainingStateVersion = 1;

// The fingerprint of an MLP with these layer sizes trained by `optimizer` ("adam", ...):
// "mlp:784-256-128-10/adam".
std::string MlpFingerprint(const std::vector<int>& layer_sizes, absl::string_view optimizer);
// The layer sizes a fingerprint names. INVALID_ARGUMENT, quoting it, when it is not an MLP's
// fingerprint.
absl::StatusOr<std::vector<int>> FingerprintLayerSizes(absl::string_view fingerprint);

std::string EncodeTrainingState(const TrainingState& state);
// `source` names the bytes' origin (a file path, "broadcast from rank 0") in errors.
absl::StatusOr<TrainingState> DecodeTrainingState(absl::string_view bytes,
                                                  absl::string_view source);

}  // namespace cosched::worker
