#pragma once
// The WWW-Authenticate challenge of a registry (RFC 7235): `Bearer realm="...",service="...",
// scope="..."` or `Basic realm="..."`, possibly several challenges in one header.
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::registry {

struct Challenge {
    std::string scheme;                         // lowercased: "bearer", "basic"
    std::map<std::string, std::string> params;  // keys lowercased, values unquoted
    [[nodiscard]] std::string param(const std::string& key) const {
        auto it = params.find(key);
        return it == params.end() ? std::string() : it->second;
    }
};

// Every challenge in the header, in order; unparseable tails are ignored (an empty result
// means the registry asked for nothing we understand).
[[nodiscard]] std::vector<Challenge> parse_www_authenticate(std::string_view header);

}  // namespace imgbuild::registry
