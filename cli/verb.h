#pragma once
// Each verb lives in its own cli/<verb>_command.cpp and registers itself here with a
// static VerbRegistration, so adding a verb never touches main.cpp.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace imgbuild::cli {

// Options that every verb sees (given before or after the verb).
struct GlobalOptions {
    std::string root;       // --root or IMGBUILD_ROOT; resolved by store_root()
    std::string log_level = "warn";
    // The store root to use: --root, else $IMGBUILD_ROOT, else /var/lib/imgbuild for root,
    // else $XDG_DATA_HOME/imgbuild (~/.local/share/imgbuild).
    [[nodiscard]] std::filesystem::path store_root() const;
};

// Called once when the verb's subcommand is set up: add options to `cmd`, return the
// action to run after parsing. The action returns the process exit code.
using VerbSetup = std::function<std::function<int()>(CLI::App& cmd, const GlobalOptions& global)>;

struct Verb {
    std::string name;
    std::string description;
    VerbSetup setup;
};

std::vector<Verb>& verbs();

struct VerbRegistration {
    VerbRegistration(std::string name, std::string description, VerbSetup setup) {
        verbs().push_back({std::move(name), std::move(description), std::move(setup)});
    }
};

}  // namespace imgbuild::cli
