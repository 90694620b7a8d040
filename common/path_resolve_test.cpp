// In-root path resolution: openat2(RESOLVE_IN_ROOT) and the userspace walk agree, and
// nothing outside the root is ever reached.
#include "common/path_resolve.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "common/error.h"
#include "common/fs.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
namespace stdfs = std::filesystem;

namespace {

using Opener = std::function<unique_fd(int, const stdfs::path&, int, mode_t)>;

std::string read_fd(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

void put(const stdfs::path& p, const std::string& s) {
    stdfs::create_directories(p.parent_path());
    auto fd = open_or_throw(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_all(fd.get(), s, p);
}

int open_errno(const Opener& open, int root, const std::string& path, int flags) {
    try {
        (void)open(root, path, flags, 0644);
    } catch (const SystemError& e) {
        return e.error_number();
    }
    return 0;
}

// sandbox/outside/secret and sandbox/root/... ; the root is two levels down so that any
// escape through ".." would land on a real file.
struct Tree {
    TempDir tmp{stdfs::temp_directory_path(), "inroot"};
    stdfs::path root = tmp.path() / "x" / "root";
    unique_fd root_fd;
    Tree() {
        put(tmp.path() / "outside" / "secret", "SECRET");
        put(tmp.path() / "x" / "usr" / "lib" / "f", "OUTSIDE-F");
        put(root / "usr" / "lib" / "f", "inside-f");
        put(root / "outside" / "secret", "inside-secret");
        stdfs::create_directories(root / "run");
        stdfs::create_directories(root / "var");
        stdfs::create_symlink("usr/lib", root / "lib");
        stdfs::create_symlink("/usr", root / "abs");
        stdfs::create_symlink("../../..", root / "up");
        stdfs::create_symlink("/../../outside/secret", root / "esc");
        stdfs::create_symlink("loop2", root / "loop1");
        stdfs::create_symlink("loop1", root / "loop2");
        stdfs::create_symlink("/run", root / "var" / "run");
        stdfs::create_symlink("/newfile", root / "dang");
        put(root / "plainfile", "p");
        root_fd = open_or_throw(root, O_PATH | O_DIRECTORY);
    }
};

}  // namespace

TEST_CASE("clean_path_components") {
    using V = std::vector<std::string>;
    CHECK(*clean_path_components("a/b") == V{"a", "b"});
    CHECK(*clean_path_components("/a//b/./c/") == V{"a", "b", "c"});
    CHECK(*clean_path_components("./a/../b") == V{"b"});
    CHECK(clean_path_components("/")->empty());
    CHECK(clean_path_components(".")->empty());
    CHECK(clean_path_components("")->empty());
    CHECK(clean_path_components("a/..")->empty());
    CHECK_FALSE(clean_path_components("..").has_value());
    CHECK_FALSE(clean_path_components("../x").has_value());
    CHECK_FALSE(clean_path_components("a/../../x").has_value());
    CHECK_FALSE(clean_path_components("/../etc/passwd").has_value());
    CHECK(*clean_path_components("...") == V{"..."});
    CHECK(*clean_path_components("a/..b") == V{"a", "..b"});
}

TEST_CASE("open_in_root: openat2 and the walk resolve alike, inside the root") {
    MESSAGE("openat2 available: " << detail::have_openat2());
    std::vector<std::pair<const char*, Opener>> openers = {
        {"open_in_root", [](int r, const stdfs::path& p, int f, mode_t m) { return open_in_root(r, p, f, m); }},
        {"walk", [](int r, const stdfs::path& p, int f, mode_t m) { return detail::open_in_root_walk(r, p, f, m); }},
    };
    for (auto& entry : openers) {
        // Not a structured binding: clang 14 (the fuzz/sanitizer build) cannot capture one.
        const char* name = entry.first;
        const Opener& open = entry.second;
        CAPTURE(name);
        Tree t;
        int r = t.root_fd.get();
        auto content = [&](const std::string& p) { return read_fd(open(r, p, O_RDONLY, 0).get()); };
        CHECK(content("usr/lib/f") == "inside-f");
        CHECK(content("/usr/lib/f") == "inside-f");
        CHECK(content("lib/f") == "inside-f");
        CHECK(content("abs/lib/f") == "inside-f");
        CHECK(content("up/usr/lib/f") == "inside-f");  // ".." stops at the root
        CHECK(content("../../usr/lib/f") == "inside-f");
        CHECK(content("esc") == "inside-secret");
        CHECK(content("/lib/../lib/f") == "inside-f");
        CHECK(open_errno(open, r, "loop1", O_RDONLY) == ELOOP);
        CHECK(open_errno(open, r, "missing/x", O_RDONLY) == ENOENT);
        CHECK(open_errno(open, r, "plainfile/x", O_RDONLY) == ENOTDIR);

        // The root itself.
        for (const char* p : {"", "/", ".", "..", "up"}) {
            CAPTURE(p);
            unique_fd fd = open(r, p, O_PATH | O_DIRECTORY, 0);
            struct stat a, b;
            REQUIRE(::fstat(fd.get(), &a) == 0);
            REQUIRE(::fstat(r, &b) == 0);
            CHECK(a.st_ino == b.st_ino);
        }

        // O_NOFOLLOW|O_PATH gives the link itself.
        {
            unique_fd fd = open(r, "lib", O_PATH | O_NOFOLLOW, 0);
            struct stat st;
            REQUIRE(::fstat(fd.get(), &st) == 0);
            CHECK(S_ISLNK(st.st_mode));
        }

        // Creating through symlinks lands inside the root.
        { unique_fd fd = open(r, "var/run/pidfile", O_WRONLY | O_CREAT, 0600); }
        CHECK(stdfs::exists(t.root / "run" / "pidfile"));
        { unique_fd fd = open(r, "dang", O_WRONLY | O_CREAT, 0600); }
        CHECK(stdfs::exists(t.root / "newfile"));
        CHECK_FALSE(stdfs::exists("/newfile"));
        CHECK(open_errno(open, r, "lib", O_WRONLY | O_CREAT | O_EXCL) == EEXIST);

        // Nothing outside was touched.
        CHECK(read_file(t.tmp.path() / "outside" / "secret") == "SECRET");
        CHECK(read_file(t.tmp.path() / "x" / "usr" / "lib" / "f") == "OUTSIDE-F");
        CHECK_FALSE(stdfs::exists(t.tmp.path() / "x" / "run"));
        CHECK_FALSE(stdfs::exists(t.tmp.path() / "run"));
    }
}

TEST_CASE("create_new_in_root: a new file inside the root, nullopt for what is there or has no parent") {
    Tree t;
    int r = t.root_fd.get();
    auto made = create_new_in_root(r, "/run/new", 0600);
    REQUIRE(made);
    write_all(made->get(), "x", t.root / "run" / "new");
    CHECK(read_file(t.root / "run" / "new") == "x");
    CHECK((stdfs::status(t.root / "run" / "new").permissions() & stdfs::perms::group_read) == stdfs::perms::none);
    // Something there already: a file, a dir, a symlink (dangling or not) is never followed.
    CHECK_FALSE(create_new_in_root(r, "/plainfile", 0644));
    CHECK(read_file(t.root / "plainfile") == "p");
    CHECK_FALSE(create_new_in_root(r, "/run", 0644));
    CHECK_FALSE(create_new_in_root(r, "/dang", 0644));
    CHECK_FALSE(stdfs::exists(t.root / "newfile"));
    CHECK_FALSE(create_new_in_root(r, "/esc", 0644));
    // A missing parent: nullopt, nothing made (the caller makes the parents the slow way).
    CHECK_FALSE(create_new_in_root(r, "/missing/x", 0644));
    CHECK_FALSE(stdfs::exists(t.root / "missing"));
    // Through an absolute symlink on the way: inside the root, as open_in_root resolves.
    REQUIRE(create_new_in_root(r, "/var/run/other", 0644));
    CHECK(stdfs::exists(t.root / "run" / "other"));
    // Refusing symlinks: one on the way is an error, not a file made elsewhere.
    CHECK_THROWS_AS((void)create_new_in_root(r, "/var/run/third", 0644, Symlinks::refuse), SystemError);
    CHECK_FALSE(stdfs::exists(t.root / "run" / "third"));
    CHECK(read_file(t.tmp.path() / "outside" / "secret") == "SECRET");
}

TEST_CASE("mkdirs_in_root") {
    Tree t;
    int r = t.root_fd.get();
    unique_fd d = mkdirs_in_root(r, "/var/run/a/b", 0755);
    CHECK(stdfs::is_directory(t.root / "run" / "a" / "b"));
    CHECK_FALSE(stdfs::exists(t.tmp.path() / "run"));
    // The returned O_PATH fd is the new dir, usable as a dirfd for *at() calls.
    unique_fd f(::openat(d.get(), "marker", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    CHECK(f.valid());
    CHECK(stdfs::exists(t.root / "run" / "a" / "b" / "marker"));

    (void)mkdirs_in_root(r, "up/../../made", 0755);
    CHECK(stdfs::is_directory(t.root / "made"));
    CHECK_FALSE(stdfs::exists(t.tmp.path() / "made"));
    (void)mkdirs_in_root(r, "lib/sub", 0755);  // through a relative symlink
    CHECK(stdfs::is_directory(t.root / "usr" / "lib" / "sub"));
    (void)mkdirs_in_root(r, "usr/lib", 0755);  // existing: fine
    (void)mkdirs_in_root(r, "/", 0755);

    try {
        (void)mkdirs_in_root(r, "plainfile/sub", 0755);
        FAIL("expected ENOTDIR");
    } catch (const SystemError& e) {
        CHECK(e.error_number() == ENOTDIR);
        CHECK(std::string(e.what()).find("plainfile/sub") != std::string::npos);
    }
    try {
        (void)mkdirs_in_root(r, "loop1/x", 0755);
        FAIL("expected ELOOP");
    } catch (const SystemError& e) {
        CHECK(e.error_number() == ELOOP);
    }
}

TEST_CASE("read_small_file_in_root follows the image's links inside the root") {
    Tree t;
    int r = t.root_fd.get();
    put(t.root / "etc" / "passwd", "root:x:0:0::/root:/bin/sh\n");
    stdfs::create_symlink("/etc/passwd", t.root / "etc" / "alias");
    stdfs::create_symlink("/outside/secret", t.root / "etc" / "escape");
    CHECK(read_small_file_in_root(r, "/etc/passwd", "t") == "root:x:0:0::/root:/bin/sh\n");
    CHECK(read_small_file_in_root(r, "etc/alias", "t") == "root:x:0:0::/root:/bin/sh\n");
    CHECK(read_small_file_in_root(r, "/etc/escape", "t") == "inside-secret");  // the root's, not the host's
    CHECK_FALSE(read_small_file_in_root(r, "/etc/missing", "t").has_value());
    CHECK_THROWS_WITH_AS(read_small_file_in_root(r, "/etc", "t"), "t: /etc in the image is not a regular file", Error);
}

TEST_CASE("mkdirs_in_root does not follow procfs magic links by their text") {
    auto root = open_or_throw("/", O_PATH | O_DIRECTORY);
    auto dir = open_or_throw("/tmp", O_RDONLY | O_DIRECTORY);
    std::string magic = "/proc/self/fd/" + std::to_string(dir.get()) + "/imgbuild-should-not-exist";
    try {
        (void)mkdirs_in_root(root.get(), magic, 0755);
        FAIL("expected ELOOP");
    } catch (const SystemError& e) {
        CHECK(e.error_number() == ELOOP);
    }
}

ROOT_TEST_CASE("mkdirs_in_root_owned: owner and mode on new dirs only, dangling symlinks created inside") {
    Tree t;
    stdfs::create_symlink("/made/by/link", t.root / "dangdir");
    auto r = mkdirs_in_root_owned(t.root_fd.get(), "/dangdir/sub", 0750, 1234, 4321);
    CHECK(r.created);
    CHECK(stdfs::is_directory(t.root / "made/by/link/sub"));
    CHECK(stdfs::is_symlink(t.root / "dangdir"));  // the link stays, its target is made
    CHECK_FALSE(stdfs::exists(t.tmp.path() / "made"));
    struct stat st;
    REQUIRE(::stat((t.root / "made/by/link/sub").c_str(), &st) == 0);
    CHECK(st.st_uid == 1234);
    CHECK(st.st_gid == 4321);
    CHECK((st.st_mode & 07777) == 0750);
    REQUIRE(::stat((t.root / "made").c_str(), &st) == 0);
    CHECK(st.st_uid == 1234);
    // Existing dirs keep their owner; the final dir existing means created == false.
    REQUIRE(::stat((t.root / "usr").c_str(), &st) == 0);
    uid_t usr_owner = st.st_uid;
    auto again = mkdirs_in_root_owned(t.root_fd.get(), "/usr/lib", 0700, 99, 99);
    CHECK_FALSE(again.created);
    REQUIRE(::stat((t.root / "usr").c_str(), &st) == 0);
    CHECK(st.st_uid == usr_owner);
    CHECK_FALSE(mkdirs_in_root_owned(t.root_fd.get(), "/", 0755, 0, 0).created);
    // An absolute escape through the link stays inside.
    (void)mkdirs_in_root_owned(t.root_fd.get(), "/up/escaped", 0755, 0, 0);
    CHECK(stdfs::is_directory(t.root / "escaped"));
    CHECK_FALSE(stdfs::exists(t.tmp.path() / "escaped"));
}

TEST_CASE("read_small_file_in_root: regular files only, bounded, inside the root") {
    Tree t;
    CHECK(*read_small_file_in_root(t.root_fd.get(), "/usr/lib/f", "test") == "inside-f");
    CHECK(*read_small_file_in_root(t.root_fd.get(), "/lib/f", "test") == "inside-f");  // symlink in root
    CHECK(*read_small_file_in_root(t.root_fd.get(), "/esc", "test") == "inside-secret");
    CHECK_FALSE(read_small_file_in_root(t.root_fd.get(), "/nope", "test").has_value());
    CHECK_FALSE(read_small_file_in_root(t.root_fd.get(), "/plainfile/x", "test").has_value());
    REQUIRE(::mkfifo((t.root / "fifo").c_str(), 0644) == 0);
    CHECK_THROWS_WITH_AS(read_small_file_in_root(t.root_fd.get(), "/fifo", "COPY --chown=app"),
                         "COPY --chown=app: /fifo in the image is not a regular file", Error);
    CHECK_THROWS_WITH_AS(read_small_file_in_root(t.root_fd.get(), "/run", "x"), "x: /run in the image is not a regular file",
                         Error);
    if (::geteuid() == 0) {
        REQUIRE(::mknod((t.root / "zero").c_str(), S_IFCHR | 0644, makedev(1, 5)) == 0);
        CHECK_THROWS_WITH_AS(read_small_file_in_root(t.root_fd.get(), "/zero", "x"),
                             "x: /zero in the image is not a regular file", Error);
    }
    put(t.root / "big", std::string(5000, 'b'));
    CHECK_THROWS_WITH_AS(read_small_file_in_root(t.root_fd.get(), "/big", "x", 4096),
                         "x: /big in the image is larger than 4096 bytes", Error);
    CHECK(read_small_file_in_root(t.root_fd.get(), "/big", "x", 5000)->size() == 5000);
}

TEST_CASE("resolve_path_in_root: the resolved path, chroot rules and stricter ones") {
    Tree t;
    auto path_of = [&](const std::string& p, const InRootRules& rules = {}) -> std::string {
        auto r = resolve_path_in_root(t.root_fd.get(), p, rules);
        return r ? r->path : "<none>";
    };
    CHECK(path_of("lib/f") == "usr/lib/f");
    CHECK(path_of("/abs/lib") == "usr/lib");
    CHECK(path_of("up/usr") == "usr");       // ".." stops at the root
    CHECK(path_of("esc") == "outside/secret");
    CHECK(path_of("var/run") == "run");
    CHECK(path_of("lib/..") == "usr");
    CHECK(path_of(".") == "");
    CHECK(path_of("nope/x") == "<none>");
    CHECK(path_of("plainfile/x") == "<none>");
    CHECK(path_of("dang") == "<none>");
    auto r = resolve_path_in_root(t.root_fd.get(), "lib/f");
    REQUIRE(r);
    CHECK(S_ISREG(r->st.st_mode));
    CHECK(read_fd(open_in_root(t.root_fd.get(), r->path, O_RDONLY).get()) == "inside-f");
    CHECK_THROWS_AS((void)resolve_path_in_root(t.root_fd.get(), "loop1"), SystemError);

    InRootRules strict;
    strict.refuse_dotdot_at_root = true;
    strict.absolute_link = [](const std::string& target) -> std::optional<std::string> {
        if (target.starts_with("/usr")) return target.substr(1);
        return std::nullopt;
    };
    CHECK(path_of("abs/lib", strict) == "usr/lib");
    CHECK_THROWS_AS((void)resolve_path_in_root(t.root_fd.get(), "up/usr", strict), OutsideRootError);
    CHECK_THROWS_AS((void)resolve_path_in_root(t.root_fd.get(), "../x", strict), OutsideRootError);
    try {
        (void)resolve_path_in_root(t.root_fd.get(), "var/run", strict);
        FAIL("an absolute link outside the allowed prefix must be refused");
    } catch (const OutsideRootError& e) {
        CHECK(e.link() == "run");
        CHECK(e.target() == "/run");
    }
}
