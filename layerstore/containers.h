#pragma once
// Container records in the store (DESIGN.md §3): containers/<id>/{config.json,state.json,log}
// beside the container's upper/, work/, merged/ and init/ dirs. This part of the store knows
// nothing of namespaces: it keeps what a container is (config) and where it is in its life
// (state), and finds containers by name or id prefix.
//
// Contracts:
// - config.json is written once (create) and never changes; state.json is rewritten as the
//   container moves on. Both are written atomically (a temp file in containers/<id>/ +
//   rename) without fsync: a container does not survive a host crash either.
// - Names are unique: create() takes a name with symlink(2) in containers/names/ (atomic:
//   two concurrent `run --name x` give one container and one clear error), and finding a
//   name reads one link, whatever the number of containers.
// - find() takes a full id, a unique id prefix or a name; an ambiguous prefix is an error.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imgbuild::layerstore {

class Store;

// One mount of a container besides its root: a bind of a host path, a volume of the store,
// or a tmpfs.
struct MountRecord {
    std::string type = "bind";   // "bind", "volume", "tmpfs"
    std::string source;          // host path (bind), volume name (volume), "" (tmpfs)
    std::string destination;     // absolute path in the container
    bool read_only = false;
    bool anonymous = false;      // volume made for this container (-v /path, VOLUME): removed with rm -v / --rm
    std::string tmpfs_options;   // tmpfs: "size=64m,mode=1777"
    bool operator==(const MountRecord&) const = default;
};

// A published port: the monitor listens on host_ip:host_port and forwards to
// container_port inside the container's network namespace.
struct PortRecord {
    std::string host_ip = "0.0.0.0";
    uint16_t host_port = 0;
    uint16_t container_port = 0;
    std::string protocol = "tcp";
    bool operator==(const PortRecord&) const = default;
};

struct ContainerConfig {
    std::string id;              // 64 hex
    std::string name;
    std::string image;           // as the user named it
    std::string image_id;        // sha256:<config digest>
    std::string created;         // RFC 3339
    std::vector<std::string> layers;  // chain ids, bottom first
    std::vector<std::string> argv;    // the resolved command (entrypoint + cmd)
    std::vector<std::string> env;
    std::string cwd = "/", user, hostname;
    std::string network = "private";
    std::optional<uint64_t> cpu_period, cpu_quota;
    std::optional<int64_t> memory, pids_limit;
    std::vector<MountRecord> mounts;
    std::vector<PortRecord> ports;
    bool tty = false, interactive = false, init = false, auto_remove = false;
    std::string stop_signal = "SIGTERM";
    int stop_timeout = 10;
    // The image's config section as the container saw it (Labels, ExposedPorts,
    // Entrypoint, Cmd, Volumes ...), for inspect and commit.
    nlohmann::json image_config = nlohmann::json::object();
    bool operator==(const ContainerConfig&) const = default;
};

enum class ContainerStatus { created, running, paused, exited };
[[nodiscard]] const char* to_string(ContainerStatus s);
[[nodiscard]] ContainerStatus parse_container_status(const std::string& s);

struct ContainerState {
    ContainerStatus status = ContainerStatus::created;
    pid_t pid = 0;                    // the container's PID 1 as the host sees it (0 when not running)
    pid_t monitor_pid = 0;            // the process that holds the container (0: none)
    uint64_t monitor_start_time = 0;  // its /proc/<pid>/stat start time: a reused pid is not it
    int exit_code = 0;
    std::string started_at, finished_at;  // RFC 3339, "" when not yet
    std::string error;                // why the container stopped other than by itself
    std::vector<std::string> cgroup_dirs;  // cgroup directories to remove when it ends
    std::vector<PortRecord> ports;    // the bindings in effect (random host ports resolved)
    bool operator==(const ContainerState&) const = default;
};

nlohmann::json to_json(const ContainerConfig& c);
[[nodiscard]] ContainerConfig container_config_from_json(const nlohmann::json& j);
nlohmann::json to_json(const ContainerState& s);
[[nodiscard]] ContainerState container_state_from_json(const nlohmann::json& j);

class Containers {
public:
    explicit Containers(const Store& store);

    [[nodiscard]] std::filesystem::path dir(const std::string& id) const;
    [[nodiscard]] std::filesystem::path log_path(const std::string& id) const { return dir(id) / "log"; }

    // Creates containers/<id>/ with upper/ work/ merged/ init/, config.json and a "created"
    // state. Throws UsageError when the name is taken; an empty name is replaced by a
    // generated one ("quirky_turing"), written back into `config`. `initial` is the first
    // state (a foreground run records its owner there: container_cleanup.h).
    void create(ContainerConfig& config, const ContainerState& initial = {});
    [[nodiscard]] std::vector<std::string> ids() const;  // sorted
    // Id, unique id prefix or name; nullopt when nothing matches; Error when ambiguous.
    [[nodiscard]] std::optional<std::string> find(const std::string& ref) const;
    // As find but throws Error("no such container: <ref>").
    [[nodiscard]] std::string resolve(const std::string& ref) const;
    [[nodiscard]] ContainerConfig config(const std::string& id) const;
    [[nodiscard]] ContainerState state(const std::string& id) const;
    void write_state(const std::string& id, const ContainerState& state) const;
    // Read-modify-write of state.json under the container's state lock (the monitor and
    // the CLI's verbs both write it).
    ContainerState update_state(const std::string& id, const std::function<void(ContainerState&)>& change) const;
    // Removes the record and its dirs (the caller made sure nothing runs).
    void remove(const std::string& id) const;
    // The first half of remove: the name is freed and the record renamed into tmp/ (gone
    // from ids() and find() at once); returns that path, for the caller to delete.
    [[nodiscard]] std::filesystem::path set_aside(const std::string& id) const;
    // The container that holds a name (containers/names/<name>, a symlink to its id).
    [[nodiscard]] std::optional<std::string> id_of_name(const std::string& name) const;

private:
    // Takes `name` for `id` (atomic); false when another container has it.
    [[nodiscard]] bool reserve_name(const std::string& name, const std::string& id) const;
    std::filesystem::path root_, tmp_;
};

// Docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*
[[nodiscard]] bool valid_container_name(const std::string& name);

}  // namespace imgbuild::layerstore
