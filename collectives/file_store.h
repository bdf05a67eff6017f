// File: collectives/file_store.h
// FileStore: a KeyValueStore in a directory that every rank on one machine can read (local
// multi-process runs, `--bootstrap file:DIR`). Each key is one file, written to a temporary
// name and renamed into place, so a reader sees either nothing or the whole value.
#pragma once

#include <string>
#include <vector>

#include "collectives/key_value_store.h"

namespace cosched::collectives {

class FileStore final : public KeyValueStore {
 public:
  // Creates `directory` (and parents) if needed.
  static absl::StatusOr<std::unique_ptr<FileStore>> Open(const std::string& directory);

  absl::Status Set(absl::string_view key, const std::vector<char>& value) override;
  absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout) override;
  absl::StatusOr<std::vector<char>> Get(absl::string_view key, absl::Duration timeout) override;

  // The file that holds `key`. Keys contain '/', so they are escaped into one flat file name.
  std::string PathFor(absl::string_view key) const;

 private:
  explicit FileStore(std::string directory) : directory_(std::move(directory)) {}

  const std::string directory_;
};

}  // namespace cosched::collectives
