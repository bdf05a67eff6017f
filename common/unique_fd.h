// File: common/unique_fd.h
// UniqueFd: owns a file descriptor and closes it (the file store's files, the direct
// algorithm's sockets).
#pragma once

namespace cosched {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  // Gives the descriptor up without closing it.
  int Release();

 private:
  int fd_ = -1;
};

}  // namespace cosched
