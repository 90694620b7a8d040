// RUN --mount: BuildKit's defaults, the checks per type, and the flags that give secrets
// and ssh agents (data-driven: each row is a mount as written and what it must become).
#include "builder/run_mounts.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "builder/secrets.h"
#include "common/error.h"
#include "common/fs.h"

using namespace imgbuild;
using namespace imgbuild::builder;
namespace fs = std::filesystem;

namespace {

// "type target id sharing mode" of a normalized mount, or "error: ..." for a refused one.
std::string normalized(const std::string& spec, const std::string& workdir = "/") {
    try {
        auto ms = normalize_mounts({parser::parse_mount(spec)}, workdir);
        const auto& m = ms.at(0);
        return m.type + " " + m.target + " id=" + m.id + (m.sharing.empty() ? "" : " sharing=" + m.sharing) +
               (m.readonly ? " ro" : " rw") + (m.env.empty() ? "" : " env=" + m.env);
    } catch (const Error& e) {
        return std::string("error: ") + e.what();
    }
}

struct Row {
    const char* spec;
    const char* workdir;
    const char* expected;
};

}  // namespace

TEST_CASE("run_mounts: BuildKit's defaults per mount type") {
    const Row rows[] = {
        {"type=cache,target=/root/.npm", "/", "cache /root/.npm id=/root/.npm sharing=shared rw"},
        {"type=cache,target=.cache", "/app", "cache /app/.cache id=.cache sharing=shared rw"},
        {"type=cache,target=/c,id=npm,sharing=locked,ro", "/", "cache /c id=npm sharing=locked ro"},
        {"type=secret,id=tok", "/", "secret /run/secrets/tok id=tok rw"},
        {"type=secret,target=/etc/key.pem", "/", "secret /etc/key.pem id=key.pem rw"},
        {"type=secret,id=tok,env=TOKEN", "/", "secret  id=tok rw env=TOKEN"},
        {"type=secret,id=tok,env=TOKEN,target=/t", "/", "secret /t id=tok rw env=TOKEN"},
        {"type=ssh", "/", "ssh /run/buildkit/ssh_agent.0 id=default rw"},
        {"type=ssh,id=gh,target=/s", "/", "ssh /s id=gh rw"},
        {"target=/src", "/", "bind /src id= ro"},
        {"type=bind,target=/src,rw", "/", "bind /src id= rw"},
        {"type=bind,target=src,from=build,source=/out", "/w", "bind /w/src id= ro"},
        {"type=tmpfs,target=/t,size=64m", "/", "tmpfs /t id= rw"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.spec);
        CHECK(normalized(r.spec, r.workdir) == r.expected);
    }
}

TEST_CASE("run_mounts: fields a type does not take, bad modes and ids are errors naming the mount") {
    const std::pair<const char*, const char*> rows[] = {
        {"type=tmpfs,target=/t,id=x", "error: --mount=type=tmpfs,target=/t,id=x: mount type tmpfs takes no id"},
        {"type=bind,target=/t,sharing=locked", "error: --mount=type=bind,target=/t,sharing=locked: mount type bind takes no sharing"},
        {"type=cache,target=/t,size=1m", "error: --mount=type=cache,target=/t,size=1m: mount type cache takes no size"},
        {"type=cache,target=/t,required", "error: --mount=type=cache,target=/t,required: mount type cache takes no required"},
        {"type=secret,id=a,source=x", "error: --mount=type=secret,id=a,source=x: mount type secret takes no source"},
        {"type=cache,target=/t,mode=999", "error: --mount=type=cache,target=/t,mode=999: mode=999: want an octal mode such as 0755"},
        {"type=cache,target=/t,uid=app", "error: --mount=type=cache,target=/t,uid=app: uid=app: want a number"},
        {"type=tmpfs,target=/t,size=lots", "error: --mount=type=tmpfs,target=/t,size=lots: size=lots: want a size such as 64m"},
        {"type=tmpfs,target=/", "error: --mount=type=tmpfs,target=/: target=/ cannot be a mount point"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.first);
        CHECK(normalized(r.first) == r.second);
    }
}

TEST_CASE("run_mounts: two mounts on one target are refused; ssh targets count up") {
    auto two = [](const char* a, const char* b) {
        try {
            auto ms = normalize_mounts({parser::parse_mount(a), parser::parse_mount(b)}, "/");
            return ms.at(0).target + " " + ms.at(1).target;
        } catch (const Error& e) {
            return std::string("error: ") + e.what();
        }
    };
    CHECK(two("type=ssh", "type=ssh,id=other") == "/run/buildkit/ssh_agent.0 /run/buildkit/ssh_agent.1");
    CHECK(two("type=cache,target=/c", "type=tmpfs,target=/c/") ==
          "error: --mount=type=tmpfs,target=/c/: two mounts on target /c");
}

TEST_CASE("secrets: --secret forms as docker buildx takes them") {
    struct SecretRow {
        const char* flag;
        const char* id;
        const char* file;
        const char* env;
    };
    const SecretRow rows[] = {
        {"id=tok,src=/run/tok", "tok", "/run/tok", ""},
        {"id=tok,source=/run/tok", "tok", "/run/tok", ""},
        {"id=tok,env=GH_TOKEN", "tok", "", "GH_TOKEN"},
        {"type=env,id=tok,src=GH_TOKEN", "tok", "", "GH_TOKEN"},
        {"type=file,id=tok,src=f", "tok", "f", ""},
        {"src=/x/key.pem", "key.pem", "/x/key.pem", ""},
        {"id=TOKEN", "TOKEN", "TOKEN", "TOKEN"},
        {"id=TOKEN,type=env", "TOKEN", "", "TOKEN"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.flag);
        SecretSource s = parse_secret_flag(r.flag);
        CHECK(s.id == r.id);
        CHECK(s.file == r.file);
        CHECK(s.env == r.env);
    }
    CHECK_THROWS_WITH_AS(parse_secret_flag("id=a,value=hunter2"), "--secret: unknown field \"value\" (id, src, env, type)", UsageError);
    CHECK_THROWS_WITH_AS(parse_secret_flag("id=a,type=vault"), "--secret: type must be file or env, not \"vault\"", UsageError);
}

TEST_CASE("secrets: values come from the file or the env var; errors never quote them") {
    TempDir dir(fs::temp_directory_path(), "imgbuild-secret-test");
    fs::path f = dir.path() / "tok";
    std::ofstream(f) << "s3cr3t-value";
    CHECK(read_secret(parse_secret_flag("id=tok,src=" + f.string())) == std::optional<std::string>("s3cr3t-value"));
    ::setenv("IMGBUILD_TEST_SECRET", "from-env", 1);
    CHECK(read_secret(parse_secret_flag("id=x,env=IMGBUILD_TEST_SECRET")) == std::optional<std::string>("from-env"));
    CHECK(read_secret(parse_secret_flag("id=IMGBUILD_TEST_SECRET")) == std::optional<std::string>("from-env"));
    ::unsetenv("IMGBUILD_TEST_SECRET");
    CHECK_FALSE(read_secret(parse_secret_flag("id=IMGBUILD_TEST_SECRET")).has_value());
    try {
        (void)read_secret(parse_secret_flag("id=tok,src=" + (dir.path() / "missing").string()));
        FAIL("a missing secret file must fail");
    } catch (const Error& e) {
        std::string msg = e.what();
        CHECK(msg.find("secret tok") != std::string::npos);
        CHECK(msg.find("missing") != std::string::npos);
    }
    std::ofstream(dir.path() / "big") << std::string(kMaxSecretSize + 1, 'x');
    CHECK_THROWS_AS((void)read_secret(parse_secret_flag("id=big,src=" + (dir.path() / "big").string())), Error);
}

TEST_CASE("secrets: --ssh takes an agent socket, not a key file") {
    TempDir dir(fs::temp_directory_path(), "imgbuild-ssh-test");
    fs::path sock = dir.path() / "agent";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    CHECK(parse_ssh_flag("default", sock.c_str()).socket == sock);
    CHECK(parse_ssh_flag("gh=" + sock.string(), nullptr).id == "gh");
    CHECK_THROWS_AS((void)parse_ssh_flag("default", nullptr), UsageError);
    std::ofstream(dir.path() / "id_rsa") << "key";
    CHECK_THROWS_AS((void)parse_ssh_flag("default=" + (dir.path() / "id_rsa").string(), nullptr), UsageError);
    CHECK_THROWS_AS((void)parse_ssh_flag("default=a,b", nullptr), UsageError);
    ::close(fd);
}
