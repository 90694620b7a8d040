#pragma once
// The runtime's public API: run one container described by a ContainerSpec, in the
// foreground, with no runc/crun underneath (DESIGN.md §5, docs/runtime.md).
//
// The runtime knows nothing of images or Dockerfiles. The caller (cli/run, the builder)
// resolves an image into layer dirs and a command, prepares upper/work/merged/init dirs
// and hands them over; run_container does the rest and cleans up every kernel object it
// made (mounts live only in the container's mount namespace, the cgroup is removed).
//
// Contracts:
// - run_container returns the command's exit status (128+N when killed by signal N),
//   126 when the command cannot be executed, 127 when it is not found (the reason is
//   written to the container's stderr). Failures of imgbuild itself before the command
//   starts throw imgbuild::Error naming the syscall and the path; nothing is left behind.
// - When it returns or throws, no process of the container is alive, the overlay is
//   unmounted (so upper_dir is a complete, stable diff) and the cgroup is gone.
// - The overlay is mounted with redirect_dir=off,metacopy=off,index=off so the upper dir
//   is a complete diff that can become a layer as is (DESIGN.md §4).
// - Nothing is written into upper_dir by the runtime itself: mount points the image lacks
//   (/proc, /sys, /dev, /etc/hosts, ...) come from a small "init layer" under init_dir
//   that is mounted as the bottom-most lowerdir.
// - run_container may be called from any thread; it blocks that thread until the container
//   is gone. It blocks the forwarded signals in the calling thread while it runs.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "common/user_namespace.h"

namespace imgbuild::runtime {

class Cgroup;

namespace fs = std::filesystem;

enum class NetworkMode {
    none,      // new network namespace with only lo, up
    host,      // no new network namespace
    private_,  // new network namespace with outbound access through slirp4netns (network_private.h);
               // the same as none where slirp4netns is not installed (one note on stderr)
};

// "none", "host", "private"; throws UsageError otherwise.
[[nodiscard]] NetworkMode parse_network_mode(std::string_view text);
[[nodiscard]] std::string_view to_string(NetworkMode mode);

struct BindMount {
    fs::path source;      // host path (file or directory)
    std::string target;   // absolute path inside the container; resolved inside its root
    bool read_only = false;
};

// A fresh tmpfs at target (--mount type=tmpfs).
struct TmpfsMount {
    std::string target;        // absolute path inside the container
    std::string options;       // "size=64m,mode=1777"
    bool read_only = false;
};

struct Limits {
    std::optional<uint64_t> cpu_period_us;  // default 100000 when only a quota is given
    std::optional<uint64_t> cpu_quota_us;
    std::optional<int64_t> memory_bytes;    // swap is limited to the same total (no extra swap)
    // Unset: kDefaultPidsLimit where a pids controller exists (podman's default); <= 0:
    // unlimited (docker's --pids-limit -1 / 0).
    std::optional<int64_t> pids;
    [[nodiscard]] bool any() const { return cpu_quota_us || cpu_period_us || memory_bytes || pids; }
    friend bool operator==(const Limits&, const Limits&) = default;
};

inline constexpr int64_t kDefaultPidsLimit = 2048;

// One line of /proc/<pid>/uid_map or gid_map (rootless containers).
struct IdMap {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t count = 1;
};

// A new field must also be added to builder/container_spec_json.cpp (a parallel build's RUN
// helper gets its spec from there; the size check there misses a field that fits padding).
struct ContainerSpec {
    // Root filesystem: an overlay of lower_dirs (bottom first; may be empty, FROM scratch)
    // under upper_dir, with work_dir as the overlay work dir, mounted on merged_dir.
    std::vector<fs::path> lower_dirs;
    fs::path upper_dir, work_dir, merged_dir;
    // The container's own files: hosts, hostname, resolv.conf and the init layer are
    // written here (created if missing). Never part of a commit.
    fs::path init_dir;
    // When set, the init layer is this shared, never-changing dir (made once, staged in
    // shared_init_staging_dir: ensure_shared_init_layer) instead of init_dir/rootfs: a
    // dozen inode creations and removals less per container. Only for a container whose
    // init layer holds nothing of its own (a RUN --mount stub does).
    fs::path shared_init_layer, shared_init_staging_dir;
    // Where short symlinks to the lower dirs live (the store's l/); the overlay option
    // string then names "l/<12 hex>" per layer so that 100+ layers fit one page.
    // Empty: absolute lowerdir paths are used.
    fs::path short_links_dir;

    std::vector<std::string> argv;   // argv[0] is looked up in the container's PATH
    std::vector<std::string> env;    // "K=V"; PATH and HOME are added when missing
    std::string cwd = "/";           // created (as root) if missing
    std::string user;                // "", "name", "uid", "name:group", "uid:gid"; from the image's /etc/passwd
    std::string hostname = "container";
    std::vector<BindMount> binds;
    std::vector<TmpfsMount> tmpfs;   // mounted with the binds, parents before children
    NetworkMode network = NetworkMode::private_;
    // With network none or private: join this network namespace (a KeptNetwork's,
    // kept_network.h) instead of making one; lo and slirp4netns are then the keeper's.
    // Ignored with a nested user namespace (uid_map), which could not join it. -1: a new one.
    int join_netns_fd = -1;
    Limits limits;

    bool tty = false;                // a pty from the container's own devpts; proxied to stdin/stdout_fd
    bool interactive = false;        // with tty: copy stdin_fd into the pty
    int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;  // any fds: terminals, files, pipes
    // When set, stdout/stderr of the container are pipes read by run_container itself and
    // delivered here in chunks (stream is 1 or 2), on the calling thread: no reader thread
    // is needed (the builder prefixes RUN output this way). Overrides stdout_fd/stderr_fd.
    std::function<void(int stream, std::string_view data)> on_output;

    bool init = false;               // a tiny init as PID 1 that reaps zombies (docker --init);
                                     // otherwise the command itself is PID 1
    bool forward_signals = true;     // forward SIGINT/TERM/HUP/QUIT/USR1/USR2 (and WINCH with tty)

    // Rootless: imgbuild runs as root of a user namespace (runtime/user_namespace.h), so the
    // overlay needs "userxattr", device nodes are bound rather than made, and no cgroup is
    // made unless a limit asks for one. Defaults to whether this process is in one.
    bool rootless = in_user_namespace();
    // A further, nested user namespace for the container with these maps (empty: none; the
    // container shares the caller's user namespace, so later `exec`s can join it).
    std::vector<IdMap> uid_map, gid_map;

    // Mount the overlay "volatile": no sync of the upper fs at unmount (saves ~10 ms per
    // container on ext4). The upper dir is complete either way; only its durability across
    // a host crash is left to whoever keeps it (the store syncs a layer when it commits it).
    bool volatile_overlay = true;

    // Name of the container's cgroup (a leaf under an "imgbuild" parent); random when empty.
    std::string cgroup_name;
    // A cgroup the caller made for this spec (create_container_cgroup, cgroup.h) and keeps,
    // joined instead of one made and removed for this container alone: containers run one
    // after another with the same limits (a build stage's RUN steps). It must be empty when
    // the container starts. Not carried by builder::run_container_in_subprocess.
    const Cgroup* cgroup = nullptr;

    // Called once the command has been exec'ed, with its pid as seen from the host (for
    // state.json; later `exec`, `stop`, `kill` use it).
    std::function<void(pid_t)> on_started;

    // Run in the calling thread once the child exists, while it sets up its root (on another
    // CPU); the command is exec'ed only after it returns. When it throws, the child is killed
    // before it has exec'ed anything and run_container throws that exception (`run` checks the
    // lowers' stamps here: the check costs no wall time, nothing unchecked runs).
    std::function<void()> before_exec;

    // When set (and not rootless), the container's mount namespace outlives its command: an fd
    // of it, opened after the clone, is left here after the reap. The exit of a namespace's
    // last process unmounts its overlay, /proc, /sys and /dev before the parent learns of the
    // exit (~0.26 ms here, on the way to the exit status); held, the unmounts happen where
    // the holder closes the fd (`run --rm`: its background remover). Not carried by
    // builder::run_container_in_subprocess.
    unique_fd* keep_mount_namespace = nullptr;
};

// Runs the container in the foreground; see the contracts above.
[[nodiscard]] int run_container(const ContainerSpec& spec);

// Exit statuses that are not the command's own (docker's).
inline constexpr int exit_runtime_failure = 125;
inline constexpr int exit_cannot_execute = 126;
inline constexpr int exit_not_found = 127;

}  // namespace imgbuild::runtime
