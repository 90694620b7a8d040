// `imgbuild exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] C CMD...`: a process in a running
// container (runtime/exec_join.h). Exit status: the process's; 125 when imgbuild failed,
// 126/127 when the command cannot be run / is not found.
#include <iostream>

#include "builder/container_ops.h"
#include "builder/container_spec.h"
#include "cli/container_create.h"
#include "cli/store_access.h"
#include "common/error.h"
#include "runtime/container.h"
#include "runtime/exec_join.h"

namespace imgbuild::cli {
namespace {

struct ExecArgs {
    bool interactive = false, tty = false, detach = false;
    std::vector<std::string> env;
    std::string workdir, user;
};

int exec(const ExecArgs& a, const std::vector<std::string>& rest, const GlobalOptions& g) {
    check_no_unknown_option(rest, "exec");
    if (rest.size() < 2) throw UsageError("exec: CONTAINER and COMMAND are required");
    runtime::ExecSpec spec;
    {
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        std::string id = containers.resolve(rest[0]);
        auto st = builder::running_state(containers, id);
        if (st.status == layerstore::ContainerStatus::paused) throw Error("container " + rest[0] + " is paused: unpause it first");
        auto c = containers.config(id);
        spec.target = st.pid;
        spec.cgroup_dirs = st.cgroup_dirs;
        spec.env = c.env;
        for (const auto& kv : a.env) {
            auto eq = kv.find('=');
            std::string key = kv.substr(0, eq);
            std::string value = eq == std::string::npos ? (std::getenv(key.c_str()) ? std::getenv(key.c_str()) : "") : kv.substr(eq + 1);
            if (eq == std::string::npos && !std::getenv(key.c_str())) continue;
            std::erase_if(spec.env, [&](const std::string& e) { return e.compare(0, key.size() + 1, key + "=") == 0; });
            spec.env.push_back(key + "=" + value);
        }
        spec.cwd = a.workdir.empty() ? c.cwd : a.workdir;
        spec.user = a.user.empty() ? c.user : a.user;
    }  // the store lock is not held while the process runs
    spec.argv.assign(rest.begin() + 1, rest.end());
    spec.tty = a.tty;
    spec.interactive = a.interactive;
    spec.detach = a.detach;
    if (a.detach) spec.stdin_fd = spec.stdout_fd = spec.stderr_fd = -1;
    else if (!a.interactive) spec.stdin_fd = -1;
    return runtime::exec_in_container(spec);
}

VerbRegistration exec_verb{"exec", "Run a command in a running container", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<ExecArgs>();
    cmd.add_flag("-i,--interactive", a->interactive, "keep stdin open");
    cmd.add_flag("-t,--tty", a->tty, "allocate a pseudo-terminal");
    cmd.add_flag("-d,--detach", a->detach, "run in the background");
    cmd.add_option("-e,--env", a->env, "set an environment variable")->allow_extra_args(false);
    cmd.add_option("-w,--workdir", a->workdir, "working directory inside the container");
    cmd.add_option("-u,--user", a->user, "user[:group]");
    cmd.fallthrough(false);
    cmd.prefix_command();
    return [a, &g, &cmd] {
        return with_container_exit_codes([&] { return exec(*a, cmd.remaining(), g); });
    };
}};

}  // namespace
}  // namespace imgbuild::cli
