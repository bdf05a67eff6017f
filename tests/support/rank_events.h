// File: tests/support/rank_events.h
// The final lines of a standalone job's ranks ({"event":"job_finished",...} from rank 0,
// "rank_finished" from the others), read from one process that carries every rank's stdout
// (mpirun), by rank, with everything it printed for failure messages.
#pragma once

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace cosched::testing {

struct RankEvents {
  std::map<int, nlohmann::json> finished;  // by rank
  std::string output;
};

// Reads `process`'s stdout until it ends or `deadline` passes.
inline RankEvents ReadRankEvents(Subprocess& process, absl::Time deadline) {
  RankEvents events;
  while (true) {
    absl::StatusOr<std::string> line = process.ReadLine(deadline);
    if (!line.ok()) break;
    absl::StrAppend(&events.output, *line, "\n");
    const nlohmann::json event = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) continue;
    const std::string what = event.value("event", "");
    if (what == "job_finished" || what == "rank_finished") {
      events.finished[event.value("rank", -1)] = event;
    }
  }
  return events;
}

}  // namespace cosched::testing
