#pragma once
// Opening the store for a verb, and small shared output helpers.
#include <memory>
#include <string>

#include "cli/verb.h"
#include "layerstore/store.h"

namespace imgbuild::cli {

[[nodiscard]] std::unique_ptr<layerstore::Store> open_store(const GlobalOptions& global,
                                                            layerstore::LockMode mode = layerstore::LockMode::shared);

// Opens `path` for reading ("-" is stdin) / writing ("-" or empty is stdout).
[[nodiscard]] int open_input(const std::string& path, unique_fd& holder);
[[nodiscard]] int open_output(const std::string& path, unique_fd& holder);

// "3.2MB" style sizes, as docker prints them.
[[nodiscard]] std::string human_size(uint64_t bytes);

}  // namespace imgbuild::cli
