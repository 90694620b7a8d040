#include "builder/run_flags.h"

#include <algorithm>

#include "common/error.h"

namespace imgbuild::builder {

using layerstore::MountRecord;
using layerstore::PortRecord;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t pos = text.find(sep, start);
        parts.push_back(text.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
        if (pos == std::string::npos) return parts;
        start = pos + 1;
    }
}

void check_destination(const std::string& dest, const std::string& flag) {
    if (dest.empty() || dest[0] != '/')
        throw UsageError("invalid " + flag + ": the container path must be absolute: \"" + dest + "\"");
}

uint16_t parse_port(const std::string& text, const std::string& flag) {
    if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw UsageError("invalid port \"" + text + "\" in " + flag);
    int n = std::stoi(text);
    if (n < 1 || n > 65535) throw UsageError("invalid port \"" + text + "\" in " + flag + " (1-65535)");
    return static_cast<uint16_t>(n);
}

}  // namespace

MountRecord parse_volume_flag(const std::string& text) {
    auto parts = split(text, ':');
    std::string flag = "volume \"" + text + "\"";
    MountRecord m;
    if (parts.size() == 1) {
        m.type = "volume";
        m.anonymous = true;
        m.destination = parts[0];
        check_destination(m.destination, flag);
        return m;
    }
    if (parts.size() > 3) throw UsageError("invalid " + flag + " (SRC:DST[:ro|rw] or DST)");
    if (parts.size() == 3) {
        for (const auto& opt : split(parts[2], ',')) {
            if (opt == "ro") m.read_only = true;
            else if (opt != "rw") throw UsageError("invalid " + flag + ": unknown option \"" + opt + "\" (ro or rw)");
        }
    }
    m.source = parts[0];
    m.destination = parts[1];
    check_destination(m.destination, flag);
    if (m.source.empty()) throw UsageError("invalid " + flag + ": empty source");
    m.type = m.source[0] == '/' ? "bind" : "volume";
    if (m.type == "volume" && m.source.find('/') != std::string::npos)
        throw UsageError("invalid " + flag + ": a bind mount source must be an absolute path");
    return m;
}

MountRecord parse_mount_flag(const std::string& text) {
    MountRecord m;
    m.type = "";
    std::string flag = "--mount \"" + text + "\"";
    std::string size, mode;
    for (const auto& field : split(text, ',')) {
        auto eq = field.find('=');
        std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (key == "type") m.type = value;
        else if (key == "source" || key == "src") m.source = value;
        else if (key == "target" || key == "destination" || key == "dst") m.destination = value;
        else if (key == "readonly" || key == "ro") m.read_only = value.empty() || value == "true" || value == "1";
        else if (key == "tmpfs-size") size = value;
        else if (key == "tmpfs-mode") mode = value;
        else throw UsageError("invalid " + flag + ": unknown field \"" + key + "\"");
    }
    if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs")
        throw UsageError("invalid " + flag + ": type must be bind, volume or tmpfs");
    check_destination(m.destination, flag);
    if (m.type == "bind" && (m.source.empty() || m.source[0] != '/'))
        throw UsageError("invalid " + flag + ": a bind mount needs an absolute source");
    if (m.type == "volume" && m.source.empty()) m.anonymous = true;
    if (m.type == "tmpfs") {
        if (!m.source.empty()) throw UsageError("invalid " + flag + ": a tmpfs has no source");
        std::string opts;
        if (!size.empty()) opts = "size=" + size;
        if (!mode.empty()) opts += (opts.empty() ? "" : ",") + std::string("mode=") + mode;
        m.tmpfs_options = opts;
    } else if (!size.empty() || !mode.empty()) {
        throw UsageError("invalid " + flag + ": tmpfs options on a " + m.type + " mount");
    }
    return m;
}

PortRecord parse_publish_flag(const std::string& text) {
    std::string flag = "-p \"" + text + "\"";
    PortRecord p;
    std::string spec = text;
    if (auto slash = spec.find('/'); slash != std::string::npos) {
        p.protocol = spec.substr(slash + 1);
        spec = spec.substr(0, slash);
        if (p.protocol != "tcp" && p.protocol != "udp" && p.protocol != "sctp")
            throw UsageError("invalid protocol \"" + p.protocol + "\" in " + flag);
    }
    auto parts = split(spec, ':');
    if (parts.size() > 3) throw UsageError("invalid " + flag + " ([IP:][HOST:]CTR[/tcp])");
    p.container_port = parse_port(parts.back(), flag);
    if (parts.size() >= 2 && !parts[parts.size() - 2].empty()) p.host_port = parse_port(parts[parts.size() - 2], flag);
    if (parts.size() == 3 && !parts[0].empty()) p.host_ip = parts[0];
    return p;
}

std::vector<PortRecord> publish_all(const nlohmann::json& exposed_ports) {
    std::vector<PortRecord> out;
    if (!exposed_ports.is_object()) return out;
    for (const auto& [key, _] : exposed_ports.items()) {
        auto slash = key.find('/');
        PortRecord p;
        p.container_port = parse_port(key.substr(0, slash), "ExposedPorts");
        if (slash != std::string::npos) p.protocol = key.substr(slash + 1);
        out.push_back(p);
    }
    return out;
}

}  // namespace imgbuild::builder
