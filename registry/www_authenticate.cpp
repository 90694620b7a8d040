#include "registry/www_authenticate.h"

#include <cctype>

namespace imgbuild::registry {

namespace {

bool token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

struct Scanner {
    std::string_view s;
    size_t i = 0;
    void skip_space() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    }
    void skip_space_and_commas() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    }
    std::string token() {
        size_t start = i;
        while (i < s.size() && token_char(s[i])) ++i;
        return std::string(s.substr(start, i - start));
    }
    std::string value() {
        if (i < s.size() && s[i] == '"') {
            std::string out;
            for (++i; i < s.size() && s[i] != '"'; ++i) {
                if (s[i] == '\\' && i + 1 < s.size()) ++i;
                out += s[i];
            }
            if (i < s.size()) ++i;  // closing quote
            return out;
        }
        return token();
    }
};

}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view header) {
    std::vector<Challenge> out;
    Scanner sc{header};
    for (;;) {
        sc.skip_space_and_commas();
        if (sc.i >= header.size()) break;
        std::string scheme = sc.token();
        if (scheme.empty()) break;
        Challenge ch{lower(scheme), {}};
        // Parameters: key=value pairs separated by commas, until a token not followed by '='
        // (the next challenge's scheme).
        for (;;) {
            sc.skip_space_and_commas();
            size_t save = sc.i;
            std::string key = sc.token();
            sc.skip_space();
            if (key.empty() || sc.i >= header.size() || header[sc.i] != '=') {
                sc.i = save;
                break;
            }
            ++sc.i;
            sc.skip_space();
            ch.params[lower(key)] = sc.value();
        }
        out.push_back(std::move(ch));
    }
    return out;
}

}  // namespace imgbuild::registry
