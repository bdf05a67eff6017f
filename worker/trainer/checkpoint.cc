// File: worker/trainer/checkpoint.cc
#include "worker/trainer/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace cosched::worker {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : ErrnoError("cannot fsync", path);
}

// Checkpoint files in `dir`, newest (highest step) first.
std::vector<fs::path> CheckpointFiles(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, "ckpt-") && absl::EndsWith(name, ".bin")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end(), std::greater<>());
  return files;
}

}  // namespace

absl::StatusOr<std::string> WriteCheckpoint(const std::string& dir, const TrainingState& state,
                                            int keep) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::string path = absl::StrFormat("%s/ckpt-%012d.bin", dir, state.step);
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp);
  absl::Status status = WriteAll(fd, EncodeTrainingState(state), temp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("cannot fsync", temp);
  ::close(fd);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("cannot rename to", path);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  // The rename is durable only once the directory entry is.
  RETURN_IF_ERROR(FsyncPath(dir, O_RDONLY | O_DIRECTORY));
  const std::vector<fs::path> files = CheckpointFiles(dir);
  for (size_t i = static_cast<size_t>(std::max(keep, 1)); i < files.size(); ++i) {
    fs::remove(files[i], ec);
  }
  return path;
}

absl::StatusOr<TrainingState> ReadCheckpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open checkpoint ", path));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return DecodeTrainingState(bytes, path);
}

absl::StatusOr<std::optional<TrainingState>> LoadLatestCheckpoint(const std::string& dir) {
  for (const fs::path& file : CheckpointFiles(dir)) {
    auto state = ReadCheckpoint(file.string());
    if (state.ok()) return std::make_optional(*std::move(state));
    spdlog::warn("skipping unreadable checkpoint: {}", state.status().ToString());
  }
  return std::optional<TrainingState>();
}

}  // namespace cosched::worker
