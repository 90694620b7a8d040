// Entry point: global options, verb dispatch (`imgbuild -t x .` means `imgbuild build -t x .`),
// and the mapping of failures to exit codes (2 usage, 1 failure; verbs return their own).
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <set>

#include "builder/container_process.h"
#include "cli/verb.h"
#include "common/error.h"
#include "common/log.h"
#include "common/user_namespace.h"
#include "runtime/user_namespace.h"

namespace imgbuild::cli {

std::vector<Verb>& verbs() {
    static std::vector<Verb> all;
    return all;
}

// Always absolute: overlay options, short links and mount targets are resolved from other
// working directories than the one the user typed a relative --root in.
std::filesystem::path GlobalOptions::store_root() const {
    if (!root.empty()) return std::filesystem::absolute(root).lexically_normal();
    if (const char* env = std::getenv("IMGBUILD_ROOT"); env && *env)
        return std::filesystem::absolute(env).lexically_normal();
    // Root in the rootless user namespace is still the unprivileged user: its own store.
    if (::geteuid() == 0 && !in_user_namespace()) return "/var/lib/imgbuild";
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "imgbuild";
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home ? home : "/") / ".local/share/imgbuild";
}

namespace {

// Inserts "build" where the first word after the global options is not a verb. `verb` is
// set to the verb that runs ("" when none: --help, --version, nothing).
std::vector<std::string> with_implied_build(std::vector<std::string> args, std::string& verb) {
    std::set<std::string> names;
    for (const auto& v : verbs()) names.insert(v.name);
    static const std::set<std::string> global_with_value = {"--root", "--log-level"};
    static const std::set<std::string> standalone = {"-h", "--help", "--version"};
    size_t i = 0;
    while (i < args.size()) {
        const std::string& a = args[i];
        if (global_with_value.count(a)) {
            i += 2;
            continue;
        }
        if (a.rfind("--root=", 0) == 0 || a.rfind("--log-level=", 0) == 0) {
            ++i;
            continue;
        }
        if (names.count(a)) verb = a;
        if (names.count(a) || standalone.count(a)) return args;
        break;
    }
    if (names.count("build") && i < args.size()) {
        args.insert(args.begin() + static_cast<long>(i), "build");
        verb = "build";
    }
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    // Whatever fds our caller leaked to us (fd 7 a host directory, a socket) must not reach
    // a container or a child we run: mark them close-on-exec at once (the runtime's child
    // also closes all it does not need before anything else). Best effort on old kernels.
    (void)::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    // Unprivileged: work as root of the user's imgbuild user namespace (rootless, see
    // runtime/user_namespace.h). First, while the process has a single thread (setns needs it).
    try {
        runtime::enter_rootless_user_namespace();
    } catch (const std::exception& e) {
        std::cerr << "imgbuild: rootless: " << e.what() << "\n";
        return 1;
    }
    // A parallel build's RUN helper (builder/container_process.h): no CLI, no store.
    if (argc >= 2 && std::string_view(argv[1]) == builder::kContainerHelperVerb) return builder::container_helper_main(argc, argv);
    CLI::App app{"imgbuild: daemonless container image builder and runtime"};
    app.set_version_flag("--version", std::string("imgbuild 0.1.0"));
    app.require_subcommand(1);
    GlobalOptions global;
    app.add_option("--root", global.root, "store root (default /var/lib/imgbuild, or $IMGBUILD_ROOT)")->configurable(false);
    app.add_option("--log-level", global.log_level, "debug, info, warn or error");

    std::vector<std::string> args(argv + 1, argv + argc);
    std::string chosen;
    args = with_implied_build(std::move(args), chosen);
    std::function<int()> action;
    for (auto& verb : verbs()) {
        // Only the verb that runs is set up: building every verb's options (their validators
        // and help strings) cost ~0.4 ms of each start, and adding the other verbs as bare
        // subcommands (an App each, every name checked against all the others) ~0.1 ms. With
        // no verb (--help, --version, nothing) all are listed by name for --help.
        if (!chosen.empty() && verb.name != chosen) continue;
        CLI::App* cmd = app.add_subcommand(verb.name, verb.description);
        cmd->fallthrough();  // global options may follow the verb
        if (chosen.empty()) continue;
        auto run = verb.setup(*cmd, global);
        cmd->callback([&action, run] { action = run; });
    }

    std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    try {
        log::set_level(global.log_level);
        return action ? action() : 0;
    } catch (const UsageError& e) {
        std::cerr << "imgbuild: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "imgbuild: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace imgbuild::cli

int main(int argc, char** argv) { return imgbuild::cli::main(argc, argv); }
