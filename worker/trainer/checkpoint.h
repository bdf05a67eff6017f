// File: worker/trainer/checkpoint.h
// Checkpoint files: a TrainingState written atomically (temporary file, fsync, rename, fsync
// of the directory), so a crash leaves either the old checkpoint or the new one, never a
// torn file. Files are named ckpt-<step, 12 digits>.bin; the newest valid one wins.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "worker/trainer/training_state.h"

namespace cosched::worker {

// Writes `state` into `dir` (created if needed) and returns the file's path. Keeps the
// newest `keep` checkpoints and deletes older ones.
absl::StatusOr<std::string> WriteCheckpoint(const std::string& dir, const TrainingState& state,
                                            int keep = 3);
absl::StatusOr<TrainingState> ReadCheckpoint(const std::string& path);
// The newest checkpoint in `dir` that decodes cleanly (a corrupt newest file is skipped with
// a warning); nullopt when there is none.
absl::StatusOr<std::optional<TrainingState>> LoadLatestCheckpoint(const std::string& dir);

}  // namespace cosched::worker
