#pragma once
// The registry's view of image references: the grammar itself is oci/reference.h (one parser
// for local names and registry references); here are what only a registry client needs.
#include <string>

#include "oci/reference.h"

namespace imgbuild::registry {

using oci::kDockerHub;
using oci::parse_reference;
using oci::Reference;

// The API host for a registry name: docker.io's is registry-1.docker.io.
[[nodiscard]] std::string api_host(const std::string& registry);

// True for 127.0.0.0/8, ::1 and localhost (with or without a port): registries Docker treats
// as insecure by default, so plain http is allowed for them.
[[nodiscard]] bool is_loopback_registry(const std::string& registry);

}  // namespace imgbuild::registry
