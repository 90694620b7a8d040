// libFuzzer target: any input must either parse or fail with a ParseError/Error; never crash,
// hang or trip the sanitizers. Exercises every layer plus the JSON dump and the expander.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parser/dockerfile.h"
#include "parser/json_dump.h"
#include "parser/syntax_tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    using namespace imgbuild::parser;
    try {
        SourceText src(text, "Dockerfile");
        (void)dump_sexpr(parse_syntax_tree(src, src.text()));
    } catch (const imgbuild::Error&) {
    }
    try {
        ParseResult r = parse_dockerfile(text, "Dockerfile", BuildArgs{{"A", "x y"}});
        // The lexer refuses invalid UTF-8 outside comments, but an expansion can still cut a
        // multi-byte character (${A:0:1}); the dump replaces such bytes (as `imgbuild parse` does).
        (void)to_json(r, std::nullopt).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const imgbuild::Error&) {
    }
    try {
        Env env;
        env.set("A", "a b/c.d");
        Expander ex;
        (void)ex.expand_words(text.substr(0, 512), env);
    } catch (const imgbuild::Error&) {
    }
    return 0;
}
