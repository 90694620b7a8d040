#pragma once
// The last step in the container: find the command in the container's PATH and execve it.
#include <string>
#include <vector>

namespace imgbuild::runtime {

inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The environment the command gets: `env` plus PATH and HOME when missing (as Docker).
[[nodiscard]] std::vector<std::string> container_environment(const std::vector<std::string>& env, const std::string& home);

// Exit status for an execve errno: 127 not found, 126 cannot execute.
[[nodiscard]] int exec_failure_status(int err);

// execve argv[0] (searched in PATH of `env` when it has no '/'). Returns only on failure,
// with the errno of the most meaningful attempt (EACCES beats ENOENT, as execvp).
[[nodiscard]] int exec_command(const std::vector<std::string>& argv, const std::vector<std::string>& env);

}  // namespace imgbuild::runtime
