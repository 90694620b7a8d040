#pragma once
// The flags `run` and `create` share, and the making of a container record from them
// (image resolved, volumes created and filled, ports parsed). Verbs only parse and print.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/verb.h"
#include "common/error.h"
#include "layerstore/store.h"
#include "runtime/container.h"

namespace imgbuild::cli {

struct CreateArgs {
    bool rm = false, interactive = false, tty = false, init = false, publish_all = false;
    std::vector<std::string> env, volumes, mounts, publish, labels, attach;
    std::string workdir, user, hostname, network, name, entrypoint, stop_signal;
    std::optional<int> stop_timeout;
    bool entrypoint_set = false;
    std::optional<uint64_t> cpu_period, cpu_quota;
    std::string cpus, memory;
    std::optional<int64_t> pids_limit;
};

// An option the verb does not know: exit 2, as every usage error of the other verbs.
class UnknownOptionError : public UsageError {
public:
    using UsageError::UsageError;
};

// Runs a container verb (run, create, exec) with docker's exit codes for imgbuild's own
// failures: 2 for an unknown option, 125 for anything else; the message goes to stderr.
[[nodiscard]] int with_container_exit_codes(const std::function<int()>& verb);

// Adds the shared flags; IMAGE [CMD...] stay unparsed (cmd.remaining()).
void add_create_flags(CLI::App& cmd, CreateArgs& a);

// The words after the flags: a leftover word starting with '-' before IMAGE is an unknown
// option (UsageError naming it, exit 2), never an image name.
void check_no_unknown_option(const std::vector<std::string>& rest, const std::string& verb);

// Creates the container record; returns its id (`id` when given: 64 hex digits, else a new
// random one). `owned`: this process runs it in the foreground, and is recorded as its owner
// from the start (run_command.cpp).
[[nodiscard]] std::string create_container(layerstore::Store& store, const CreateArgs& a,
                                           const std::vector<std::string>& rest, bool owned = false,
                                           const std::string& id = "");

// The limits the flags ask for (UsageError for a bad value), as the record will hold them.
[[nodiscard]] runtime::Limits parse_limits(const CreateArgs& a);

}  // namespace imgbuild::cli
