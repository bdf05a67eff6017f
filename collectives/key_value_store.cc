// File: collectives/key_value_store.cc
#include "collectives/key_value_store.h"

#include "absl/strings/str_cat.h"

namespace cosched::collectives {

std::string GenerationPrefix(absl::string_view job_id, int64_t generation) {
  return absl::StrCat("job/", job_id, "/gen/", generation, "/");
}

}  // namespace cosched::collectives
