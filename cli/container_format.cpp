#include "cli/container_format.h"

#include <algorithm>
#include <ctime>

namespace imgbuild::cli {

using layerstore::ContainerStatus;
using nlohmann::json;

std::string human_duration(int64_t s) {
    auto plural = [](int64_t n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); };
    if (s < 1) return "Less than a second";
    if (s == 1) return "1 second";
    if (s < 60) return plural(s, "second");
    int64_t m = s / 60;
    if (m == 1) return "About a minute";
    if (m < 60) return plural(m, "minute");
    int64_t h = static_cast<int64_t>(static_cast<double>(s) / 3600 + 0.5);
    if (h == 1) return "About an hour";
    if (h < 48) return plural(h, "hour");
    if (h < 24 * 7 * 2) return plural(h / 24, "day");
    if (h < 24 * 30 * 2) return plural(h / 24 / 7, "week");
    if (h < 24 * 365 * 2) return plural(h / 24 / 30, "month");
    return plural(h / 24 / 365, "year");
}

int64_t parse_rfc3339(const std::string& t) {
    struct tm tm {};
    if (t.size() < 19 || !strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
    return static_cast<int64_t>(timegm(&tm));
}

std::string status_text(const layerstore::ContainerState& s, int64_t now) {
    switch (s.status) {
        case ContainerStatus::created: return "Created";
        case ContainerStatus::running: return "Up " + human_duration(now - parse_rfc3339(s.started_at));
        case ContainerStatus::paused: return "Up " + human_duration(now - parse_rfc3339(s.started_at)) + " (Paused)";
        case ContainerStatus::exited:
            return "Exited (" + std::to_string(s.exit_code) + ") " + human_duration(now - parse_rfc3339(s.finished_at)) + " ago";
    }
    return "Unknown";
}

std::string command_text(const std::vector<std::string>& argv, bool truncate) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    if (truncate && cmd.size() > 19) cmd = cmd.substr(0, 19) + "…";
    return "\"" + cmd + "\"";
}

std::string ports_text(const std::vector<layerstore::PortRecord>& ports) {
    std::string out;
    for (const auto& p : ports) {
        if (!out.empty()) out += ", ";
        out += p.host_ip + ":" + std::to_string(p.host_port) + "->" + std::to_string(p.container_port) + "/" + p.protocol;
    }
    return out;
}

PsRow ps_row(const layerstore::ContainerConfig& c, const layerstore::ContainerState& s, int64_t now) {
    PsRow r;
    r.id = c.id.substr(0, 12);
    r.image = c.image;
    r.command = command_text(c.argv);
    r.created = human_duration(now - parse_rfc3339(c.created)) + " ago";
    r.status = status_text(s, now);
    r.ports = s.status == ContainerStatus::running || s.status == ContainerStatus::paused ? ports_text(s.ports) : "";
    r.names = c.name;
    return r;
}

std::string ps_table(const std::vector<PsRow>& rows) {
    std::vector<std::vector<std::string>> cells = {{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
    for (const auto& r : rows) cells.push_back({r.id, r.image, r.command, r.created, r.status, r.ports, r.names});
    // Display width: "…" is one column but three bytes.
    auto width = [](const std::string& s) {
        size_t w = 0;
        for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
        return w;
    };
    std::vector<size_t> widths(7, 0);
    for (const auto& row : cells)
        for (size_t i = 0; i < 7; ++i) widths[i] = std::max(widths[i], width(row[i]));
    std::string out;
    for (const auto& row : cells) {
        std::string line;
        for (size_t i = 0; i < 7; ++i) {
            line += row[i];
            if (i + 1 < 7) line += std::string(widths[i] - width(row[i]) + 3, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

json inspect_json(const layerstore::ContainerConfig& c, const layerstore::ContainerState& s, const ContainerPaths& paths) {
    const json& ic = c.image_config;
    auto or_null = [&](const char* key) { return ic.contains(key) ? ic[key] : json(); };
    json mounts = json::array(), binds = json::array();
    for (size_t i = 0; i < c.mounts.size(); ++i) {
        const auto& m = c.mounts[i];
        json j = {{"Type", m.type},
                  {"Source", i < paths.volume_dirs.size() ? paths.volume_dirs[i] : m.source},
                  {"Destination", m.destination},
                  {"Mode", m.read_only ? "ro" : ""},
                  {"RW", !m.read_only},
                  {"Propagation", m.type == "bind" ? "rprivate" : ""}};
        if (m.type == "volume") {
            j["Name"] = m.source;
            j["Driver"] = "local";
        }
        mounts.push_back(j);
        if (m.type == "bind") binds.push_back(m.source + ":" + m.destination + (m.read_only ? ":ro" : ""));
    }
    json bindings = json::object(), net_ports = json::object();
    for (const auto& p : c.ports) {
        std::string key = std::to_string(p.container_port) + "/" + p.protocol;
        bindings[key].push_back({{"HostIp", p.host_ip == "0.0.0.0" ? "" : p.host_ip},
                                 {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
    }
    bool live = s.status == ContainerStatus::running || s.status == ContainerStatus::paused;
    for (const auto& p : s.ports) {
        if (!live) break;
        std::string key = std::to_string(p.container_port) + "/" + p.protocol;
        net_ports[key].push_back({{"HostIp", p.host_ip}, {"HostPort", std::to_string(p.host_port)}});
    }
    json exposed = ic.value("ExposedPorts", json::object());
    for (const auto& p : c.ports) exposed[std::to_string(p.container_port) + "/" + p.protocol] = json::object();
    return {
        {"Id", c.id},
        {"Created", c.created},
        {"Path", c.argv.empty() ? "" : c.argv[0]},
        {"Args", c.argv.size() > 1 ? json(std::vector<std::string>(c.argv.begin() + 1, c.argv.end())) : json::array()},
        {"State",
         {{"Status", layerstore::to_string(s.status)},
          {"Running", live},
          {"Paused", s.status == ContainerStatus::paused},
          {"Restarting", false},
          {"OOMKilled", false},
          {"Dead", false},
          {"Pid", live ? s.pid : 0},
          {"ExitCode", s.exit_code},
          {"Error", s.error},
          {"StartedAt", s.started_at.empty() ? "0001-01-01T00:00:00Z" : s.started_at},
          {"FinishedAt", s.finished_at.empty() ? "0001-01-01T00:00:00Z" : s.finished_at}}},
        {"Image", c.image_id},
        {"LogPath", paths.log_path},
        {"Name", "/" + c.name},
        {"Driver", "overlay"},
        {"HostConfig",
         {{"CpuPeriod", c.cpu_period.value_or(0)},
          {"CpuQuota", c.cpu_quota.value_or(0)},
          {"Memory", c.memory.value_or(0)},
          {"PidsLimit", c.pids_limit ? json(*c.pids_limit) : json()},
          {"Binds", binds.empty() ? json() : binds},
          {"PortBindings", bindings},
          {"NetworkMode", c.network},
          {"AutoRemove", c.auto_remove},
          {"Init", c.init}}},
        {"GraphDriver",
         {{"Name", "overlay"},
          {"Data",
           {{"LowerDir", paths.lower_dirs},
            {"UpperDir", paths.upper_dir},
            {"WorkDir", paths.work_dir},
            {"MergedDir", paths.merged_dir}}}}},
        {"Mounts", mounts},
        {"Config",
         {{"Hostname", c.hostname},
          {"User", c.user},
          {"Tty", c.tty},
          {"OpenStdin", c.interactive},
          {"Env", c.env},
          {"Cmd", or_null("Cmd")},
          {"Image", c.image},
          {"Volumes", or_null("Volumes")},
          {"WorkingDir", c.cwd},
          {"Entrypoint", or_null("Entrypoint")},
          {"Labels", ic.value("Labels", json::object())},
          {"ExposedPorts", exposed},
          {"StopSignal", c.stop_signal}}},
        {"NetworkSettings", {{"Ports", net_ports}}},
    };
}

}  // namespace imgbuild::cli
