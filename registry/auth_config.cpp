#include "registry/auth_config.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "oci/image.h"
#include "registry/reference.h"

extern char** environ;

namespace imgbuild::registry {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kHubKey = "https://index.docker.io/v1/";

// "https://host:5000/v1/" -> "host:5000"; the Hub's legacy names -> docker.io.
std::string normalize_key(std::string k) {
    if (auto p = k.find("://"); p != std::string::npos) k = k.substr(p + 3);
    k = k.substr(0, k.find('/'));
    if (k == "index.docker.io" || k == "registry-1.docker.io") k = kDockerHub;
    return k;
}

std::optional<json> read_json_file(const fs::path& p) {
    std::string text;
    try {
        text = read_file(p);
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT || e.error_number() == ENOTDIR) return std::nullopt;
        throw;
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
    json j = oci::parse_json(text, p.string());
    if (!j.is_object()) throw Error(p.string() + ": not a JSON object");
    return j;
}

// Runs docker-credential-<helper> <action> with `input` on stdin; returns its stdout.
// `status` gets the exit status.
std::string run_helper(const std::string& helper, const std::string& action, const std::string& input, int& status) {
    std::string prog = "docker-credential-" + helper;
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe", prog);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char* argv[] = {const_cast<char*>(prog.c_str()), const_cast<char*>(action.c_str()), nullptr};
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    unique_fd wr(in[1]), rd(out[0]);
    if (rc != 0) throw_errno(rc, "run", prog + " (credential helper named in the Docker config)");
    (void)::write(wr.get(), input.data(), input.size());
    wr.reset();
    std::string output;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (output.size() < (1 << 20)) output.append(buf, static_cast<size_t>(n));
    }
    status = shell_status(wait_for_child(pid, prog));
    return output;
}

std::optional<std::string> helper_for(const json& config, const std::string& registry) {
    if (auto h = config.find("credHelpers"); h != config.end() && h->is_object())
        for (auto& [k, v] : h->items())
            if (normalize_key(k) == registry && v.is_string()) return v.get<std::string>();
    if (auto s = config.find("credsStore"); s != config.end() && s->is_string() && !s->get<std::string>().empty())
        return s->get<std::string>();
    return std::nullopt;
}

std::optional<Credentials> from_helper(const std::string& helper, const std::string& registry) {
    int status = 0;
    std::string out = run_helper(helper, "get", registry == kDockerHub ? kHubKey : registry, status);
    if (status != 0) return std::nullopt;  // "credentials not found in native keychain"
    json j = oci::parse_json(out, "docker-credential-" + helper + " get");
    Credentials c{j.value("Username", ""), j.value("Secret", "")};
    if (c.password.empty()) return std::nullopt;
    return c;
}

std::optional<Credentials> from_auths(const json& config, const std::string& registry, const fs::path& file) {
    auto auths = config.find("auths");
    if (auths == config.end() || !auths->is_object()) return std::nullopt;
    for (auto& [k, v] : auths->items()) {
        if (normalize_key(k) != registry || !v.is_object()) continue;
        if (auto tok = v.find("identitytoken"); tok != v.end() && tok->is_string() && !tok->get<std::string>().empty())
            return Credentials{"<token>", tok->get<std::string>()};
        auto a = v.find("auth");
        if (a == v.end() || !a->is_string() || a->get<std::string>().empty()) continue;
        auto decoded = base64_decode(a->get<std::string>());
        auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos) throw Error(file.string() + ": auths." + k + ".auth is not base64(user:password)");
        return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
    }
    return std::nullopt;
}

void write_config(const fs::path& file, const json& config) {
    make_dirs(file.parent_path(), 0700);
    fs::path tmp = file.parent_path() / (file.filename().string() + ".tmp-" + random_hex(4));
    {
        auto fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        write_all(fd.get(), config.dump(1, '\t') + "\n", tmp);
        if (::fsync(fd.get()) != 0) throw_errno("fsync", tmp.string());
    }
    rename_or_throw(tmp, file);
}

bool remove_from_auths(json& config, const std::string& registry) {
    auto auths = config.find("auths");
    if (auths == config.end() || !auths->is_object()) return false;
    std::vector<std::string> keys;
    for (auto& [k, v] : auths->items())
        if (normalize_key(k) == registry) keys.push_back(k);
    for (const auto& k : keys) auths->erase(k);
    return !keys.empty();
}

}  // namespace

AuthLocations auth_locations_from_env() {
    AuthLocations w;
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) w.docker_config = fs::path(d) / "config.json";
    else if (const char* h = std::getenv("HOME"); h && *h) w.docker_config = fs::path(h) / ".docker/config.json";
    else w.docker_config = "/root/.docker/config.json";
    if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) w.first = f;
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) w.read_also.push_back(fs::path(x) / "containers/auth.json");
    return w;
}

std::string auth_key(const std::string& registry) { return registry == kDockerHub ? kHubKey : registry; }

std::optional<Credentials> find_credentials(const AuthLocations& where, const std::string& registry) {
    if (where.first)
        if (auto j = read_json_file(*where.first))
            if (auto c = from_auths(*j, registry, *where.first)) return c;
    if (auto j = read_json_file(where.docker_config)) {
        if (auto helper = helper_for(*j, registry)) {
            if (auto c = from_helper(*helper, registry)) return c;
        } else if (auto c = from_auths(*j, registry, where.docker_config)) {
            return c;
        }
    }
    for (const auto& f : where.read_also)
        if (auto j = read_json_file(f))
            if (auto c = from_auths(*j, registry, f)) return c;
    return std::nullopt;
}

std::string store_credentials(const AuthLocations& where, const std::string& registry, const Credentials& creds) {
    json config = read_json_file(where.docker_config).value_or(json::object());
    if (auto helper = helper_for(config, registry)) {
        json in = {{"ServerURL", auth_key(registry)}, {"Username", creds.username}, {"Secret", creds.password}};
        int status = 0;
        std::string out = run_helper(*helper, "store", in.dump(), status);
        if (status != 0) throw Error("docker-credential-" + *helper + " store: failed: " + out);
        return "docker-credential-" + *helper;
    }
    remove_from_auths(config, registry);
    config["auths"][auth_key(registry)] = {{"auth", base64_encode(creds.username + ":" + creds.password)}};
    write_config(where.docker_config, config);
    return where.docker_config.string();
}

bool erase_credentials(const AuthLocations& where, const std::string& registry) {
    bool removed = false;
    if (auto config = read_json_file(where.docker_config)) {
        if (auto helper = helper_for(*config, registry)) {
            int status = 0;
            (void)run_helper(*helper, "erase", auth_key(registry), status);
            removed = status == 0;
        }
        if (remove_from_auths(*config, registry)) {
            write_config(where.docker_config, *config);
            removed = true;
        }
    }
    std::vector<fs::path> others = where.read_also;
    if (where.first) others.insert(others.begin(), *where.first);
    for (const auto& f : others) {
        auto j = read_json_file(f);
        if (j && remove_from_auths(*j, registry)) {
            write_config(f, *j);
            removed = true;
        }
    }
    return removed;
}

std::string base64_encode(std::string_view in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += t[(v >> 6) & 63];
        out += t[v & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=' || c == '\n' || c == '\r') continue;
        int v = val(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

}  // namespace imgbuild::registry
