#pragma once
// Registry options shared by pull, push, login and build: --tls-verify, --registry-mirror,
// --platform, --progress; the config file's mirrors and insecure registries are added.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "registry/client.h"

namespace imgbuild::cli {

struct RegistryArgs {
    bool tls_verify = true;
    std::vector<std::string> mirrors;
    std::string platform;
    std::string progress = "auto";
};

enum RegistryArgSet : unsigned { kTls = 1, kMirror = 2, kPlatform = 4, kProgress = 8 };

void add_registry_args(CLI::App& cmd, RegistryArgs& a, unsigned which);
[[nodiscard]] registry::RegistryOptions to_registry_options(const RegistryArgs& a);

}  // namespace imgbuild::cli
