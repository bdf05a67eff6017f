// File: collectives/gloo_compat/gloo/common/memory.h
// Debian's libgloo-dev (0.0~git20220518) installs gloo/transport/tcp/pair.h, which includes
// gloo/common/memory.h, but does not install that header. gloo_group.cc (TcpPairInternals) and
// checked_tcp_transport.cc need pair.h, so this directory supplies the three small pointer wrappers
// pair.h names. Their layout (one std::weak_ptr / std::shared_ptr member) is what libgloo.so
// was compiled with; cosched never creates or destroys these objects itself.
// Only the collectives library and its tests see this directory (a PRIVATE include path).
#pragma once

#include <memory>
#include <thread>

namespace gloo {

template <typename T>
class WeakNonOwningPtr;

// The owner side: lives inside the object it points at; its destructor waits until no
// NonOwningPtr to the object is left.
template <typename T>
class ShareableNonOwningPtr final {
 public:
  explicit ShareableNonOwningPtr(T* object) : ptr_(object, [](T*) {}) {}
  ShareableNonOwningPtr(const ShareableNonOwningPtr&) = delete;
  ShareableNonOwningPtr& operator=(const ShareableNonOwningPtr&) = delete;
  ~ShareableNonOwningPtr() {
    std::weak_ptr<T> watcher = ptr_;
    ptr_.reset();
    while (!watcher.expired()) std::this_thread::yield();
  }

 private:
  friend class WeakNonOwningPtr<T>;
  std::shared_ptr<T> ptr_;
};

template <typename T>
class NonOwningPtr;

// A handle that may outlive the object; turns into a NonOwningPtr while the object lives.
template <typename T>
class WeakNonOwningPtr final {
 public:
  WeakNonOwningPtr() = default;
  explicit WeakNonOwningPtr(const ShareableNonOwningPtr<T>& owner) : ptr_(owner.ptr_) {}
  explicit operator bool() const noexcept {
    const std::weak_ptr<T> empty;
    return ptr_.owner_before(empty) || empty.owner_before(ptr_);
  }

 private:
  friend class NonOwningPtr<T>;
  std::weak_ptr<T> ptr_;
};

// A short-lived strong reference that keeps the object from being destroyed while held.
template <typename T>
class NonOwningPtr final {
 public:
  NonOwningPtr() = default;
  explicit NonOwningPtr(const WeakNonOwningPtr<T>& weak) : ptr_(weak.ptr_.lock()) {}
  T* operator->() const noexcept { return ptr_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(ptr_); }

 private:
  std::shared_ptr<T> ptr_;
};

}  // namespace gloo
