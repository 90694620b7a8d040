// `imgbuild parse [-f FILE|-] [--build-arg K=V]... [--target STAGE] [CONTEXT]`: prints the
// parsed stages and typed instructions as JSON, for tooling and tests. Reading the file is
// done here; the parser itself never touches the disk.
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>

#include "cli/verb.h"
#include "common/error.h"
#include "common/fs.h"
#include "parser/dockerfile.h"
#include "parser/json_dump.h"

namespace imgbuild::cli {
namespace {

struct ParseOptions {
    std::string file;
    std::vector<std::string> build_args;
    std::string target;
    std::string context = ".";
};

int run_parse(const ParseOptions& o) {
    parser::BuildArgs args;
    for (const auto& kv : o.build_args) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError("--build-arg " + kv + ": expected KEY=VALUE");
        args[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    std::string text;
    std::string name;
    if (o.file == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        name = "Dockerfile";
    } else {
        std::filesystem::path path = o.file.empty() ? std::filesystem::path(o.context) / "Dockerfile" : std::filesystem::path(o.file);
        text = read_file(path);
        name = o.file.empty() ? "Dockerfile" : o.file;
    }
    parser::ParseResult result = parser::parse_dockerfile(text, name, args);
    std::optional<std::string> target;
    if (!o.target.empty()) target = o.target;
    // A Dockerfile may hold invalid UTF-8; JSON cannot, so such bytes become U+FFFD.
    std::cout << parser::to_json(result, target).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
}

VerbRegistration parse_verb{"parse", "Parse a Dockerfile and print its stages and instructions as JSON",
                            [](CLI::App& cmd, const GlobalOptions&) {
                                auto o = std::make_shared<ParseOptions>();
                                cmd.add_option("-f,--file", o->file, "the Dockerfile (default CONTEXT/Dockerfile; - for stdin)");
                                cmd.add_option("--build-arg", o->build_args, "KEY=VALUE for an ARG")->take_all();
                                cmd.add_option("--target", o->target, "the stage to build (default: the last)");
                                cmd.add_option("context", o->context, "the build context (default .)");
                                return [o] { return run_parse(*o); };
                            }};

}  // namespace
}  // namespace imgbuild::cli
