#pragma once
// Helpers shared by the parser's data-driven tests (golden folders, BuildKit conformance).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace imgbuild::parser::testing {

// The whole file, bytes as they are.
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The case folders below `dir`, sorted (none when it does not exist).
inline std::vector<std::filesystem::path> case_dirs(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_directory()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

inline std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n\v\f");
    size_t e = s.find_last_not_of(" \t\r\n\v\f");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace imgbuild::parser::testing
