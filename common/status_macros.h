// File: common/status_macros.h
// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr. Debian's Abseil
// (20220623) does not ship absl/status/status_macros.h, so cosched carries its own.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status cosched_status_ = (expr);           \
    if (!cosched_status_.ok()) return cosched_status_; \
  } while (false)

#define COSCHED_CONCAT_INNER_(a, b) a##b
#define COSCHED_CONCAT_(a, b) COSCHED_CONCAT_INNER_(a, b)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, otherwise moves the value into `lhs` (which may be a declaration: `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  COSCHED_ASSIGN_OR_RETURN_IMPL_(COSCHED_CONCAT_(cosched_statusor_, __LINE__), lhs, expr)

#define COSCHED_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
