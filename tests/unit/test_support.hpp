// Small helpers shared by the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include <unistd.h>

#include "waybill/storage/store.hpp"

namespace waybill::testing_support {

/// Options of a store a test opens in `data_dir`: small caches and one background job,
/// so that many tests open stores side by side cheaply.
inline storage::StoreOptions small_store_options(const std::string& data_dir) {
  storage::StoreOptions o;
  o.data_dir = data_dir;
  o.block_cache_mb = 8;
  o.write_buffer_mb = 4;
  o.background_jobs = 1;
  return o;
}

/// A fresh, unique directory that is removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "waybill") {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = std::filesystem::path(::testing::TempDir()) /
            (tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
             std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path_.string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Polls `pred` until it holds or `timeout` passes; returns the last result.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

}  // namespace waybill::testing_support
