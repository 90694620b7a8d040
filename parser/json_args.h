#pragma once
// The JSON ("exec") form of RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME and HEALTHCHECK.
// Docker's rule: text that parses as a JSON array of strings is the exec form; text that is
// not valid JSON at all is the shell form; a *valid* JSON array with a non-string element is
// an error. As in Docker, text after the closing bracket is ignored.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace imgbuild::parser {

struct JsonArgs {
    enum class Kind { not_json, string_array, not_string_array };
    Kind kind = Kind::not_json;
    std::vector<std::string> values;
    std::vector<size_t> offsets;  // where each string starts in the input
};

[[nodiscard]] JsonArgs parse_json_args(std::string_view text);

// Appends `cp` to `out` as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace imgbuild::parser
