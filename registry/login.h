#pragma once
// login: the credentials are checked against the registry (GET /v2/ with them, or a token
// request for a Bearer registry) before they are stored.
#include <string>

#include "registry/client.h"

namespace imgbuild::registry {

// "https://host:5000/v1/" or "host:5000" -> "host:5000"; the Hub's names -> docker.io.
[[nodiscard]] std::string registry_of(const std::string& server);

// Throws RegistryError(401) "401 Unauthorized: wrong username or password" when refused.
void check_credentials(const std::string& registry, const RegistryOptions& opts, const Credentials& creds);

}  // namespace imgbuild::registry
