// File: common/thread_priority.cc
#include "common/thread_priority.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cosched {
namespace {

// The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0); <linux/sched/types.h> cannot be
// included next to <sched.h>, and glibc 2.36 has no sched_setattr wrapper.
struct sched_attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(sched_attr) == 48);

int SetAttr(const sched_attr& attr) {
  return static_cast<int>(::syscall(SYS_sched_setattr, 0, &attr, 0));
}

sched_attr Attr(uint32_t policy, int nice, absl::Duration slice) {
  sched_attr attr{};
  attr.size = sizeof(attr);
  attr.sched_policy = policy;
  attr.sched_nice = nice;
  attr.sched_runtime = static_cast<uint64_t>(absl::ToInt64Nanoseconds(slice));
  return attr;
}

}  // namespace

absl::Status MakeThisThreadBackground() {
  if (SetAttr(Attr(SCHED_BATCH, 10, absl::ZeroDuration())) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot make this thread SCHED_BATCH nice 10: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeThisThreadLatencySensitive(absl::Duration slice) {
  if (SetAttr(Attr(SCHED_OTHER, -5, slice)) == 0) return absl::OkStatus();
  const int raise_errno = errno;
  if (SetAttr(Attr(SCHED_OTHER, 0, slice)) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot set a ", absl::FormatDuration(slice),
                                               " slice: ", std::strerror(errno)));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("kept nice 0 (with a ", absl::FormatDuration(slice),
                   " slice); raising to nice -5 needs CAP_SYS_NICE: ", std::strerror(raise_errno)));
}

}  // namespace cosched
