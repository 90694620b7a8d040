#include "builder/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace imgbuild::builder {

namespace {

}  // namespace

SecretSource parse_secret_flag(const std::string& text) {
    SecretSource s;
    std::string type;
    for (std::string_view field_view : split(text, ',')) {
        std::string field(field_view);
        auto eq = field.find('=');
        std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (eq == std::string::npos) throw UsageError("--secret: field \"" + key + "\" needs a value (id=ID,src=FILE)");
        if (key == "id") s.id = value;
        else if (key == "src" || key == "source") s.file = value;
        else if (key == "env") s.env = value;
        else if (key == "type") type = value;
        else throw UsageError("--secret: unknown field \"" + key + "\" (id, src, env, type)");
    }
    if (!type.empty() && type != "file" && type != "env")
        throw UsageError("--secret: type must be file or env, not \"" + type + "\"");
    if (type == "env" && s.env.empty()) std::swap(s.env, s.file);  // type=env,src=VAR names a variable
    if (s.id.empty()) {
        // buildx: the id defaults to the file's or variable's name.
        s.id = !s.file.empty() ? std::filesystem::path(s.file).filename().string() : s.env;
        if (s.id.empty()) throw UsageError("--secret: want id=ID with src=FILE or env=VAR");
    }
    if (s.file.empty() && s.env.empty()) {  // --secret id=X: the env var X, else the file X
        if (type != "file") s.env = s.id;
        if (type != "env") s.file = s.id;
    }
    return s;
}

SshSource parse_ssh_flag(const std::string& text, const char* ssh_auth_sock) {
    auto eq = text.find('=');
    SshSource s;
    s.id = text.substr(0, eq);
    if (s.id.empty()) throw UsageError("--ssh " + text + ": want default|ID[=SOCKET]");
    std::string paths = eq == std::string::npos ? "" : text.substr(eq + 1);
    if (paths.find(',') != std::string::npos)
        throw UsageError("--ssh " + s.id + ": one agent socket per id is supported (key files and lists are not)");
    if (paths.empty()) {
        if (!ssh_auth_sock || !*ssh_auth_sock)
            throw UsageError("--ssh " + s.id + ": no socket given and SSH_AUTH_SOCK is not set");
        paths = ssh_auth_sock;
    }
    struct stat st {};
    if (::stat(paths.c_str(), &st) != 0) throw_errno("--ssh " + s.id + ": stat", paths);
    if (!S_ISSOCK(st.st_mode))
        throw UsageError("--ssh " + s.id + ": " + paths + " is not a socket (only agent sockets are supported, not key files)");
    s.socket = std::filesystem::absolute(paths);
    return s;
}

std::optional<std::string> read_secret(const SecretSource& source) {
    const std::string what = "secret " + source.id;
    if (!source.env.empty())
        if (const char* v = std::getenv(source.env.c_str())) {
            if (std::string_view(v).size() > kMaxSecretSize) throw Error(what + ": larger than 500 KiB");
            return std::string(v);
        }
    if (source.file.empty()) return std::nullopt;
    int fd = ::open(source.file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT && source.env == source.id && source.file == source.id) return std::nullopt;
        throw_errno(what + ": open", source.file);
    }
    unique_fd guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno(what + ": stat", source.file);
    if (!S_ISREG(st.st_mode)) throw Error(what + ": " + source.file + " is not a regular file");
    if (static_cast<uint64_t>(st.st_size) > kMaxSecretSize) throw Error(what + ": " + source.file + " is larger than 500 KiB");
    std::string value(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < value.size()) {
        ssize_t n = ::read(fd, value.data() + got, value.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(what + ": read", source.file);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    value.resize(got);
    return value;
}

}  // namespace imgbuild::builder
