#include "runtime/exec.h"
#include "common/strings.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <utility>

namespace imgbuild::runtime {
namespace {

constexpr std::pair<int, int> kExecErrnoStatus[] = {
    {ENOENT, 127}, {ENOTDIR, 127}, {ELOOP, 127}, {ENAMETOOLONG, 127},
};

std::vector<char*> c_strings(const std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

bool has_var(const std::vector<std::string>& env, std::string_view name) {
    for (const auto& e : env)
        if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') return true;
    return false;
}

std::string path_of(const std::vector<std::string>& env) {
    for (const auto& e : env)
        if (e.rfind("PATH=", 0) == 0) return e.substr(5);
    return kDefaultPath;
}

}  // namespace

std::vector<std::string> container_environment(const std::vector<std::string>& env, const std::string& home) {
    std::vector<std::string> out = env;
    if (!has_var(out, "PATH")) out.push_back(std::string("PATH=") + kDefaultPath);
    if (!has_var(out, "HOME")) out.push_back("HOME=" + home);
    return out;
}

int exec_failure_status(int err) {
    for (const auto& [e, status] : kExecErrnoStatus)
        if (e == err) return status;
    return 126;
}

int exec_command(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    if (argv.empty() || argv[0].empty()) return ENOENT;
    auto args = c_strings(argv);
    auto envp = c_strings(env);
    const std::string& name = argv[0];
    if (name.find('/') != std::string::npos) {
        ::execve(name.c_str(), args.data(), envp.data());
        return errno;
    }
    int best = ENOENT;
    std::string path = path_of(env);
    for (std::string_view dir : split(path, ':')) {
        std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + name;
        // A name missing from this dir (busybox's `true` is in the last of the default PATH's
        // six) costs a stat, not a failed execve, which does more before it fails. Same
        // outcome: what stat does not find, execve would not either.
        struct stat st {};
        if (::stat(candidate.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) continue;
        ::execve(candidate.c_str(), args.data(), envp.data());
        int err = errno;
        if (err != ENOENT && err != ENOTDIR) best = err;
        if (err != ENOENT && err != ENOTDIR && err != EACCES) return err;
    }
    return best;
}

}  // namespace imgbuild::runtime
