// `imgbuild unshare [CMD...]`: runs CMD (default $SHELL) in the rootless user namespace,
// as `buildah unshare` / `podman unshare` do: there the store's files owned by subordinate
// ids can be inspected and removed (`imgbuild unshare rm -rf ~/.local/share/imgbuild`).
// main has already entered the namespace; as real root this simply runs CMD.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>

#include "cli/verb.h"
#include "common/error.h"

namespace imgbuild::cli {
namespace {
VerbRegistration unshare_verb{
    "unshare", "Run a command in the rootless user namespace (default: $SHELL)",
    [](CLI::App& cmd, const GlobalOptions&) {
        cmd.fallthrough(false);
        cmd.prefix_command();
        return [&cmd]() -> int {
            std::vector<std::string> argv = cmd.remaining();
            if (argv.empty()) {
                const char* shell = std::getenv("SHELL");
                argv.push_back(shell && *shell ? shell : "/bin/sh");
            }
            std::vector<char*> raw;
            for (auto& a : argv) raw.push_back(a.data());
            raw.push_back(nullptr);
            ::execvp(raw[0], raw.data());
            int err = errno;
            std::cerr << "imgbuild: unshare: exec " << argv[0] << ": " << describe_errno(err) << "\n";
            return err == ENOENT ? 127 : 126;
        };
    }};
}  // namespace
}  // namespace imgbuild::cli
