// `imgbuild version`: the version string (also `--version`).
#include <iostream>

#include "cli/verb.h"

namespace imgbuild::cli {
namespace {
VerbRegistration version_verb{"version", "Show the imgbuild version", [](CLI::App&, const GlobalOptions&) {
    return [] {
        std::cout << "imgbuild 0.1.0\n";
        return 0;
    };
}};
}  // namespace
}  // namespace imgbuild::cli
