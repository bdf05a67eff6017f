// File: scheduler/core/model_registry.cc
#include "scheduler/core/model_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched::scheduler {

const char* PromotionPolicyName(PromotionPolicy policy) {
  return policy == PromotionPolicy::kNewest ? "newest" : "better_accuracy";
}

absl::StatusOr<PromotionPolicy> ParsePromotionPolicy(const std::string& name) {
  if (name == "newest") return PromotionPolicy::kNewest;
  if (name == "better_accuracy") return PromotionPolicy::kBetterAccuracy;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown promotion policy '", name, "' (newest or better_accuracy)"));
}

void ModelRegistry::Declare(const std::string& model, const JobId& job, PromotionPolicy policy,
                            int64_t max_staleness_steps) {
  ServedModel& entry = models_[model];
  entry.name = model;
  entry.job = job;
  entry.policy = policy;
  entry.max_staleness_steps = max_staleness_steps;
}

bool ModelRegistry::Observe(const ServedVersion& served, absl::Time now) {
  auto it = models_.find(served.model);
  if (it == models_.end()) return false;
  ServedModel& model = it->second;
  // A node still holding a version older than all those kept (the serving one aside): it
  // was forgotten on purpose.
  if (model.versions.size() >= kKeptVersions && !model.versions.contains(served.version)) {
    auto oldest = model.versions.begin();
    if (model.serving == oldest->first) ++oldest;
    if (oldest != model.versions.end() && served.version < oldest->first) return false;
  }
  auto [version, added] = model.versions.try_emplace(served.version);
  ModelVersionRecord& record = version->second;
  const bool newly_evaluated = record.test_accuracy < 0 && served.test_accuracy >= 0;
  if (added) {
    record.version = served.version;
    record.job = served.job;
    record.published = served.published;
  }
  if (newly_evaluated) record.test_accuracy = served.test_accuracy;
  if (!added && !newly_evaluated) return false;
  ApplyPolicy(model, record, now);
  Trim(model);
  return added;
}

absl::Status ModelRegistry::Publish(const std::string& model, const ModelVersionRecord& record,
                                    absl::Time now) {
  absl::Status not_found;
  ServedModel* entry = FindMutable(model, &not_found);
  if (entry == nullptr) return not_found;
  auto [version, added] = entry->versions.try_emplace(record.version, record);
  if (!added) {
    const ModelVersionRecord& known = version->second;
    return absl::AlreadyExistsError(
        absl::StrCat("model '", model, "' already has version ", record.version, " (",
                     known.checkpoint.empty() ? absl::StrCat("from job ", known.job)
                                              : absl::StrCat("from checkpoint ", known.checkpoint),
                     "); publish it under another version number"));
  }
  ApplyPolicy(*entry, version->second, now);
  Trim(*entry);
  return absl::OkStatus();
}

void ModelRegistry::ApplyPolicy(ServedModel& model, const ModelVersionRecord& record,
                                absl::Time now) {
  if (model.pinned) return;
  const ModelVersionRecord* serving =
      model.serving.has_value() && model.versions.contains(*model.serving)
          ? &model.versions.at(*model.serving)
          : nullptr;
  switch (model.policy) {
    case PromotionPolicy::kNewest:
      if (serving == nullptr || record.version > serving->version) {
        Serve(model, record.version, now);
      }
      break;
    case PromotionPolicy::kBetterAccuracy:
      if (record.test_accuracy >= 0 &&
          (serving == nullptr || record.test_accuracy > serving->test_accuracy)) {
        Serve(model, record.version, now);
      }
      break;
  }
}

absl::Status ModelRegistry::Promote(const std::string& model, int64_t version, absl::Time now) {
  absl::Status not_found;
  ServedModel* entry = FindMutable(model, &not_found);
  if (entry == nullptr) return not_found;
  if (!entry->versions.contains(version)) {
    return absl::NotFoundError(absl::StrCat(
        "model '", model, "' has no version ", version,
        " (versions kept: ", entry->versions.empty() ? 0 : entry->versions.begin()->first, " to ",
        entry->versions.empty() ? 0 : entry->versions.rbegin()->first, ")"));
  }
  Serve(*entry, version, now);
  entry->pinned = true;
  return absl::OkStatus();
}

absl::Status ModelRegistry::Rollback(const std::string& model, absl::Time now) {
  absl::Status not_found;
  ServedModel* entry = FindMutable(model, &not_found);
  if (entry == nullptr) return not_found;
  if (entry->previous.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", model, "' has no earlier serving version to roll back to"));
  }
  const ServedModel::Served before = entry->previous.back();
  entry->previous.pop_back();
  if (entry->pinned && !before.pinned) {
    // Undoing a promotion by hand: the policy picks again, as it did before it.
    entry->pinned = false;
    entry->serving = PolicyPick(*entry).value_or(before.version);
  } else {
    // The policy's pick (or a pin) is undone: the one before serves, pinned, or the policy
    // would pick the same again.
    entry->serving = before.version;
    entry->pinned = true;
  }
  entry->serving_since = now;
  return absl::OkStatus();
}

absl::Status ModelRegistry::Unpin(const std::string& model, absl::Time now) {
  absl::Status not_found;
  ServedModel* entry = FindMutable(model, &not_found);
  if (entry == nullptr) return not_found;
  entry->pinned = false;
  if (const std::optional<int64_t> pick = PolicyPick(*entry); pick.has_value()) {
    Serve(*entry, *pick, now);
  }
  return absl::OkStatus();
}

std::optional<int64_t> ModelRegistry::PolicyPick(const ServedModel& model) {
  std::optional<int64_t> pick;
  for (const auto& [version, record] : model.versions) {
    if (model.policy == PromotionPolicy::kNewest) {
      pick = version;  // ascending: the last is the newest
    } else if (record.test_accuracy >= 0 &&
               (!pick.has_value() ||
                record.test_accuracy >= model.versions.at(*pick).test_accuracy)) {
      pick = version;
    }
  }
  return pick;
}

absl::StatusOr<VersionRange> ModelRegistry::Acceptable(const std::string& model) const {
  const ServedModel* entry = Find(model);
  if (entry == nullptr) {
    std::vector<std::string> names;
    for (const auto& [name, unused] : models_) names.push_back(name);
    return absl::NotFoundError(
        absl::StrCat("no model '", model,
                     "' (models: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  if (!entry->serving.has_value()) {
    return absl::UnavailableError(absl::StrCat(
        "no version of model '", model, "' serves yet",
        entry->policy == PromotionPolicy::kBetterAccuracy ? " (none has been evaluated)" : ""));
  }
  const int64_t serving = *entry->serving;
  VersionRange range;
  range.min = serving - entry->max_staleness_steps;
  // Fresher than the serving version is fine only while the policy serves the newest.
  if (entry->pinned || entry->policy != PromotionPolicy::kNewest) range.max = serving;
  return range;
}

void ModelRegistry::KeepWeights(const std::string& model, int64_t version,
                                std::shared_ptr<const std::string> weights) {
  auto it = models_.find(model);
  if (it == models_.end() || weights == nullptr) return;
  ServedModel& entry = it->second;
  entry.weights[version] = std::move(weights);
  // The serving version's weights stay, and so do a checkpoint's: nothing but another
  // publish could bring them back. The limit is on the rest, oldest dropped first.
  const auto always_kept = [&entry](int64_t kept) {
    return entry.serving == kept || FromCheckpoint(entry, kept);
  };
  size_t droppable = 0;
  for (const auto& [kept, unused] : entry.weights) droppable += always_kept(kept) ? 0 : 1;
  for (auto old = entry.weights.begin(); droppable > kKeptWeights && old != entry.weights.end();) {
    if (always_kept(old->first)) {
      ++old;
    } else {
      old = entry.weights.erase(old);
      --droppable;
    }
  }
}

std::optional<int64_t> ModelRegistry::LoadableVersion(const std::string& model,
                                                      const VersionRange& range) const {
  const ServedModel* entry = Find(model);
  if (entry == nullptr) return std::nullopt;
  for (auto it = entry->weights.rbegin(); it != entry->weights.rend(); ++it) {
    if (range.Contains(it->first)) return it->first;
  }
  return std::nullopt;
}

ModelChoice ModelRegistry::ChoiceOf(const std::string& model) const {
  const ServedModel& entry = models_.at(model);
  ModelChoice choice;
  choice.model = model;
  choice.pinned = entry.pinned;
  if (entry.serving.has_value()) {
    auto it = entry.versions.find(*entry.serving);
    choice.serving = it != entry.versions.end()
                         ? it->second
                         : ModelVersionRecord{*entry.serving, entry.job, absl::Time(), -1, ""};
  }
  choice.previous = entry.previous;
  return choice;
}

void ModelRegistry::RestoreChoice(const ModelChoice& choice) {
  ServedModel& entry = models_[choice.model];
  entry.name = choice.model;
  entry.pinned = choice.pinned;
  entry.previous = choice.previous;
  if (choice.serving.has_value()) {
    entry.serving = choice.serving->version;
    entry.versions[choice.serving->version] = *choice.serving;
  }
}

const ServedModel* ModelRegistry::Find(const std::string& model) const {
  auto it = models_.find(model);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<const ServedModel*> ModelRegistry::Models() const {
  std::vector<const ServedModel*> models;
  for (const auto& [name, model] : models_) models.push_back(&model);
  return models;
}

ServedModel* ModelRegistry::FindMutable(const std::string& model, absl::Status* not_found) {
  auto it = models_.find(model);
  if (it != models_.end()) return &it->second;
  *not_found = absl::NotFoundError(absl::StrCat("no model '", model, "'"));
  return nullptr;
}

void ModelRegistry::Serve(ServedModel& model, int64_t version, absl::Time now) {
  if (model.serving.has_value() && (*model.serving != version || !model.pinned)) {
    model.previous.push_back({*model.serving, model.pinned});
    if (model.previous.size() > kKeptPrevious) model.previous.erase(model.previous.begin());
  }
  model.serving = version;
  model.serving_since = now;
}

bool ModelRegistry::FromCheckpoint(const ServedModel& model, int64_t version) {
  const auto record = model.versions.find(version);
  return record != model.versions.end() && !record->second.checkpoint.empty();
}

void ModelRegistry::Trim(ServedModel& model) {
  // A job's versions go first, oldest first: the job publishes new ones every few steps, while
  // a checkpoint's version comes back only if someone publishes it again.
  for (const bool checkpoints : {false, true}) {
    auto it = model.versions.begin();
    while (model.versions.size() > kKeptVersions && it != model.versions.end()) {
      const bool from_checkpoint = FromCheckpoint(model, it->first);
      if (model.serving == it->first || from_checkpoint != checkpoints) {
        ++it;
        continue;
      }
      if (from_checkpoint) model.weights.erase(it->first);
      it = model.versions.erase(it);
    }
  }
}

}  // namespace cosched::scheduler
