// File: collectives/gloo_store_adapter.cc
#include "collectives/gloo_store_adapter.h"

#include "absl/strings/str_cat.h"
#include "gloo/common/error.h"

namespace cosched::collectives {
namespace {

void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw StoreError(status);
}

}  // namespace

std::vector<std::string> GlooStoreAdapter::Prefixed(const std::vector<std::string>& keys) const {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) out.push_back(absl::StrCat(prefix_, key));
  return out;
}

void GlooStoreAdapter::set(const std::string& key, const std::vector<char>& data) {
  ThrowIfError(store_->Set(absl::StrCat(prefix_, key), data));
}

std::vector<char> GlooStoreAdapter::get(const std::string& key) {
  auto value = store_->GetUnlessStopped(absl::StrCat(prefix_, key), default_timeout_, stop_);
  ThrowIfError(value.status());
  return *std::move(value);
}

void GlooStoreAdapter::wait(const std::vector<std::string>& keys) {
  ThrowIfError(store_->WaitUnlessStopped(Prefixed(keys), default_timeout_, stop_));
}

void GlooStoreAdapter::wait(const std::vector<std::string>& keys,
                            const std::chrono::milliseconds& timeout) {
  ThrowIfError(store_->WaitUnlessStopped(Prefixed(keys), absl::FromChrono(timeout), stop_));
}

}  // namespace cosched::collectives
