#include "registry/reference.h"

#include <arpa/inet.h>

namespace imgbuild::registry {

std::string api_host(const std::string& registry) {
    return registry == kDockerHub ? "registry-1.docker.io" : registry;
}

bool is_loopback_registry(const std::string& registry) {
    std::string host = registry;
    if (!host.empty() && host.front() == '[') {
        host = host.substr(1, host.find(']') - 1);
    } else if (auto colon = host.find(':'); colon != std::string::npos) {
        host = host.substr(0, colon);
    }
    if (host == "localhost") return true;
    in_addr a4{};
    if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    in6_addr a6{};
    if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

}  // namespace imgbuild::registry
