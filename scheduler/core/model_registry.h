// File: scheduler/core/model_registry.h
// ModelRegistry: the models the cluster serves, their versions and which one serves.
//
// A model is named by the job that trains it (its YAML's serving.model). A version is the
// weights of one of that job's committed steps, named by the step: the job's members take
// one every serving.publish_every_steps steps and after each evaluation, and report it in
// their heartbeats, which is how the registry learns of it. Members of a data-parallel job
// hold the same bits at the same step, so (model, step) names the weights everywhere.
// A version may also come from a checkpoint file (Publish: coschedctl publish), under the
// checkpoint's step or a number given; a model no job trains is served from those alone.
//
// Which version serves: by the model's policy, the newest one ("newest"), or one whose
// evaluated test accuracy beats the serving one's ("better_accuracy"); by hand, a version
// promoted is pinned, and the policy rests until the pin is lifted. Rollback undoes: after a
// promotion it restores what served before (the policy, if it picked); otherwise it pins the
// version that served before the serving one.
// Requests for a model go only to nodes whose version is Acceptable: no more than the
// model's max_staleness_steps behind the serving version, and, when the serving version was
// picked for its accuracy or by hand, not past it either.
//
// Plain data on the core's loop thread; the core journals nothing of it (workers report
// their versions again after a scheduler restart).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/core/types.h"

namespace cosched::scheduler {

enum class PromotionPolicy { kNewest, kBetterAccuracy };
const char* PromotionPolicyName(PromotionPolicy policy);
// "newest" or "better_accuracy"; INVALID_ARGUMENT otherwise.
absl::StatusOr<PromotionPolicy> ParsePromotionPolicy(const std::string& name);

struct ModelVersionRecord {
  int64_t version = 0;
  JobId job;  // the job that trained it; empty for a checkpoint's
  absl::Time published;
  double test_accuracy = -1;
  std::string checkpoint;  // published from this checkpoint file (Publish); empty: by a job
};

// The versions of a model a node may answer with.
struct VersionRange {
  int64_t min = 0;
  int64_t max = std::numeric_limits<int64_t>::max();
  bool Contains(int64_t version) const { return version >= min && version <= max; }
};

struct ServedModel {
  std::string name;
  JobId job;  // the job that trains it (the latest one)
  PromotionPolicy policy = PromotionPolicy::kNewest;
  int64_t max_staleness_steps = 0;
  std::map<int64_t, ModelVersionRecord> versions;  // the newest kKeptVersions, and the serving one
  std::optional<int64_t> serving;
  bool pinned = false;  // serving was promoted by hand; the policy rests
  struct Served {
    int64_t version;
    bool pinned;
  };
  std::vector<Served> previous;  // what served before, oldest first (for rollback)
  absl::Time serving_since;
  // Weights the scheduler holds to load onto nodes (serialized ModelWeights, opaque here).
  std::map<int64_t, std::shared_ptr<const std::string>> weights;
};

// What a journal keeps of a model across restarts: its serving choice as made by hand.
struct ModelChoice {
  std::string model;
  bool pinned = false;
  std::optional<ModelVersionRecord> serving;
  std::vector<ServedModel::Served> previous;
};

class ModelRegistry {
 public:
  // Versions kept per model (older ones are forgotten, unless one serves; a job's before a
  // checkpoint's).
  static constexpr size_t kKeptVersions = 32;
  // Versions remembered for rollback.
  static constexpr size_t kKeptPrevious = 16;
  // Versions whose weights are kept per model, besides the serving one's and checkpoints'
  // (which are never dropped while their versions are kept).
  static constexpr size_t kKeptWeights = 4;

  // `job` trains `model` with these rules. The model keeps its versions when a later job
  // trains it again; the newest declaration's rules apply.
  void Declare(const std::string& model, const JobId& job, PromotionPolicy policy,
               int64_t max_staleness_steps);

  // A node reported holding `served`. Records a version the registry did not know (of a
  // declared model), promotes it if the policy says so, and returns whether it was new.
  // Unknown models are ignored (a node still holds what an earlier scheduler run declared).
  bool Observe(const ServedVersion& served, absl::Time now);

  // A version from outside the model's job (a checkpoint): recorded, and promoted if the
  // policy says so. NOT_FOUND for an undeclared model; ALREADY_EXISTS when the model has
  // the version (two sets of weights must not share a name).
  absl::Status Publish(const std::string& model, const ModelVersionRecord& record, absl::Time now);

  // By hand: `version` serves and is pinned. NOT_FOUND names the model or the version.
  absl::Status Promote(const std::string& model, int64_t version, absl::Time now);
  // By hand: undoes the last change (see above). FAILED_PRECONDITION when nothing served
  // before.
  absl::Status Rollback(const std::string& model, absl::Time now);
  // The policy picks again (the newest, or the most accurate, version known).
  absl::Status Unpin(const std::string& model, absl::Time now);

  // The versions that may answer requests for `model`. NOT_FOUND (naming the models there
  // are) for an unknown model, UNAVAILABLE while none of its versions serves yet.
  absl::StatusOr<VersionRange> Acceptable(const std::string& model) const;

  // Keeps the weights of `version` of `model` (a declared model), dropping the oldest kept
  // past kKeptWeights, never the serving version's or a checkpoint's.
  void KeepWeights(const std::string& model, int64_t version,
                   std::shared_ptr<const std::string> weights);
  // The newest version of `model` whose weights are kept and which `range` accepts; nullopt
  // if none.
  std::optional<int64_t> LoadableVersion(const std::string& model, const VersionRange& range) const;

  // The choice to journal after a change by hand (`model` must exist).
  ModelChoice ChoiceOf(const std::string& model) const;
  // After a restart, before the workers report: the choice made by hand comes back (a pinned
  // version stays pinned, and its record with it). Declares the model if no job does.
  void RestoreChoice(const ModelChoice& choice);

  const ServedModel* Find(const std::string& model) const;
  std::vector<const ServedModel*> Models() const;  // name order

 private:
  ServedModel* FindMutable(const std::string& model, absl::Status* not_found);
  // Serves `record` (a version of `model` just recorded or just evaluated) if the policy
  // prefers it to the serving one, unless a pin rests the policy.
  void ApplyPolicy(ServedModel& model, const ModelVersionRecord& record, absl::Time now);
  // The version the model's policy would serve now, if any.
  static std::optional<int64_t> PolicyPick(const ServedModel& model);
  void Serve(ServedModel& model, int64_t version, absl::Time now);
  // Whether `version` of `model` was published from a checkpoint: kept before a job's.
  static bool FromCheckpoint(const ServedModel& model, int64_t version);
  // Drops the oldest versions past kKeptVersions, never the serving one.
  static void Trim(ServedModel& model);

  std::map<std::string, ServedModel> models_;
};

}  // namespace cosched::scheduler
