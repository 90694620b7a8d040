// libFuzzer target: the .dockerignore matcher. The input is a pattern file, a line "---",
// then paths to match, one per line. Any imgbuild::Error (a bad pattern) is a fine answer;
// a crash, a hang or a sanitizer report is a bug.
#include <cstdint>
#include <string_view>

#include "builder/dockerignore.h"
#include "common/error.h"

using namespace imgbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t split = input.find("\n---\n");
    std::string_view patterns = input.substr(0, split);
    std::string_view paths = split == std::string_view::npos ? input : input.substr(split + 5);
    try {
        auto matcher = builder::IgnoreMatcher::from_text(patterns);
        (void)matcher.patterns();
        while (!paths.empty()) {
            size_t nl = paths.find('\n');
            std::string_view path = paths.substr(0, nl);
            (void)matcher.excluded(path);
            (void)matcher.may_include_below(path);
            if (nl == std::string_view::npos) break;
            paths.remove_prefix(nl + 1);
        }
    } catch (const Error&) {
    }
    return 0;
}
