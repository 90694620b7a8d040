// The COPY/ADD engine: Docker's destination rules, metadata, links, xattrs, special
// files, archives, and containment inside the destination root.
#include "builder/copy_files.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "builder/build_context.h"
#include "builder/dockerignore.h"
#include "common/error.h"
#include "common/fs.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
using namespace imgbuild::builder;
namespace stdfs = std::filesystem;

namespace {

bool is_root() { return ::geteuid() == 0; }

void put(const stdfs::path& p, std::string_view content, mode_t mode = 0644) {
    stdfs::create_directories(p.parent_path());
    unique_fd fd = open_or_throw(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    write_all(fd.get(), content, p);
    REQUIRE(::fchmod(fd.get(), mode) == 0);
}

std::string slurp(const stdfs::path& p) { return read_file(p); }

struct stat lstat_of(const stdfs::path& p) {
    struct stat st{};
    REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p.string());
    return st;
}

// A context dir and a container root with hostile symlinks: var/run -> /run, evil -> /.
struct Fixture {
    TempDir tmp{stdfs::temp_directory_path(), "copy-test"};
    stdfs::path ctx = tmp.path() / "ctx";
    stdfs::path root = tmp.path() / "root";
    std::string uniq = "imgbuild-copy-" + random_hex(6);
    unique_fd ctx_fd, root_fd;

    Fixture() {
        stdfs::create_directories(ctx);
        stdfs::create_directories(root / "var");
        stdfs::create_directories(root / "run");
        stdfs::create_symlink("/run", root / "var/run");
        stdfs::create_symlink("/", root / "evil");
        ctx_fd = open_or_throw(ctx, O_PATH | O_DIRECTORY);
        root_fd = open_or_throw(root, O_PATH | O_DIRECTORY);
    }
    ~Fixture() {
        // Nothing may have escaped the container root.
        CHECK_FALSE(stdfs::exists(stdfs::path("/run") / uniq));
        CHECK_FALSE(stdfs::exists(stdfs::path("/") / uniq));
        CHECK_FALSE(stdfs::exists(stdfs::path("/etc") / uniq));
    }
    CopySpec spec(std::vector<std::string> sources, std::string dest) const {
        CopySpec s;
        for (auto& p : sources) s.sources.emplace_back(ctx_fd.get(), p);
        s.dest_trailing_slash = dest.ends_with('/') || dest.ends_with("/.");
        s.dest = std::move(dest);
        s.multiple_sources_pattern = s.sources.size() > 1;
        return s;
    }
    void copy(std::vector<std::string> sources, std::string dest) { copy_into_root(root_fd.get(), spec(std::move(sources), std::move(dest))); }
};

}  // namespace

ROOT_TEST_CASE("copy: a file to dest/ lands at dest/name; parents are created 0755") {
    Fixture f;
    put(f.ctx / "a.txt", "A");
    f.copy({"a.txt"}, "/app/sub/");
    CHECK(slurp(f.root / "app/sub/a.txt") == "A");
    auto st = lstat_of(f.root / "app");
    CHECK((st.st_mode & 07777) == 0755);
    CHECK(st.st_uid == 0);
}

ROOT_TEST_CASE("copy: a file to dest without '/' is written at dest, or into an existing dir") {
    Fixture f;
    put(f.ctx / "a.txt", "A");
    f.copy({"a.txt"}, "/opt/renamed");
    CHECK(slurp(f.root / "opt/renamed") == "A");
    stdfs::create_directories(f.root / "existing");
    f.copy({"a.txt"}, "/existing");
    CHECK(slurp(f.root / "existing/a.txt") == "A");
    f.copy({"a.txt"}, "/var/run");  // an existing dir through an image symlink
    CHECK(slurp(f.root / "run/a.txt") == "A");
}

ROOT_TEST_CASE("copy: a directory copies its contents into dest, which is created") {
    Fixture f;
    put(f.ctx / "src/x.txt", "X");
    put(f.ctx / "src/deep/y.txt", "Y");
    stdfs::create_directories(f.ctx / "src/empty");
    REQUIRE(::chmod((f.ctx / "src/deep").c_str(), 0750) == 0);
    f.copy({"src"}, "/dst");
    CHECK(slurp(f.root / "dst/x.txt") == "X");
    CHECK(slurp(f.root / "dst/deep/y.txt") == "Y");
    CHECK(stdfs::is_directory(f.root / "dst/empty"));
    CHECK_FALSE(stdfs::exists(f.root / "dst/src"));
    CHECK((lstat_of(f.root / "dst/deep").st_mode & 07777) == 0750);
    // Into an existing dir: merged, the existing dir keeps its mode.
    stdfs::create_directories(f.root / "merge");
    put(f.root / "merge/old.txt", "old");
    REQUIRE(::chmod((f.root / "merge").c_str(), 0700) == 0);
    f.copy({"src"}, "/merge/");
    CHECK(slurp(f.root / "merge/old.txt") == "old");
    CHECK(slurp(f.root / "merge/x.txt") == "X");
    CHECK((lstat_of(f.root / "merge").st_mode & 07777) == 0700);
    // The context root itself.
    f.copy({"."}, "/all");
    CHECK(slurp(f.root / "all/src/x.txt") == "X");
}

ROOT_TEST_CASE("copy: several sources need a destination ending in '/'") {
    Fixture f;
    put(f.ctx / "a", "a");
    put(f.ctx / "b", "b");
    CHECK_THROWS_WITH_AS(f.copy({"a", "b"}, "/dest"),
                         doctest::Contains("When using COPY with more than one source file, the destination must be a "
                                           "directory and end with a /"),
                         Error);
    f.copy({"a", "b"}, "/dest/");
    CHECK(slurp(f.root / "dest/a") == "a");
    CHECK(slurp(f.root / "dest/b") == "b");
    f.copy({"a", "b"}, "/dot/.");
    CHECK(slurp(f.root / "dot/b") == "b");
}

ROOT_TEST_CASE("copy: modes (setuid too) and mtimes are kept; owner defaults to 0:0") {
    Fixture f;
    put(f.ctx / "tool", "#!/bin/sh\n", 04755);
    put(f.ctx / "ro.txt", "r", 0400);
    timespec ts[2] = {{1'600'000'000, 123'000'000}, {1'600'000'000, 123'000'000}};
    REQUIRE(::utimensat(AT_FDCWD, (f.ctx / "tool").c_str(), ts, 0) == 0);
    if (is_root()) REQUIRE(::chown((f.ctx / "tool").c_str(), 1000, 1000) == 0);
    REQUIRE(::chmod((f.ctx / "tool").c_str(), 04755) == 0);  // chown dropped setuid
    f.copy({"tool", "ro.txt"}, "/bin/");
    auto st = lstat_of(f.root / "bin/tool");
    CHECK((st.st_mode & 07777) == 04755);
    CHECK(st.st_mtim.tv_sec == 1'600'000'000);
    CHECK(st.st_mtim.tv_nsec == 123'000'000);
    CHECK(st.st_uid == 0);
    CHECK(st.st_gid == 0);
    CHECK((lstat_of(f.root / "bin/ro.txt").st_mode & 07777) == 0400);

    if (is_root()) {
        CopySpec keep = f.spec({"tool"}, "/keep/");
        keep.preserve_ownership = true;
        copy_into_root(f.root_fd.get(), keep);
        CHECK(lstat_of(f.root / "keep/tool").st_uid == 1000);
        CHECK((lstat_of(f.root / "keep/tool").st_mode & 07777) == 04755);
    }
}

ROOT_TEST_CASE("copy: --chown and --chmod apply to copied files and created dirs, not to existing parents") {
    Fixture f;
    put(f.ctx / "d/f.txt", "f");
    stdfs::create_directories(f.root / "srv");
    CopySpec s = f.spec({"d"}, "/srv/app/");
    s.uid = 1234;
    s.gid = 5678;
    s.mode = 0640;
    copy_into_root(f.root_fd.get(), s);
    auto file = lstat_of(f.root / "srv/app/f.txt");
    CHECK(file.st_uid == 1234);
    CHECK(file.st_gid == 5678);
    CHECK((file.st_mode & 07777) == 0640);
    CHECK(lstat_of(f.root / "srv/app").st_uid == 1234);
    CHECK(lstat_of(f.root / "srv").st_uid == 0);
}

ROOT_TEST_CASE("copy: symlinks below a dir are copied as links; a top-level symlink is followed") {
    Fixture f;
    put(f.ctx / "d/target.txt", "T");
    stdfs::create_symlink("target.txt", f.ctx / "d/rel");
    stdfs::create_symlink("/etc/" + f.uniq, f.ctx / "d/abs");
    stdfs::create_symlink("d/target.txt", f.ctx / "top");
    f.copy({"d"}, "/out");
    CHECK(stdfs::read_symlink(f.root / "out/rel") == "target.txt");
    CHECK(stdfs::read_symlink(f.root / "out/abs") == "/etc/" + f.uniq);
    f.copy({"top"}, "/single/");
    CHECK(stdfs::is_regular_file(stdfs::symlink_status(f.root / "single/top")));
    CHECK(slurp(f.root / "single/top") == "T");

    // Through BuildContext: the file keeps the name the source was written with.
    BuildContext ctx(f.ctx, IgnoreMatcher(), nullptr);
    CopySpec s;
    s.sources = {ctx.copy_source("top")};
    s.dest = "/named/";
    s.dest_trailing_slash = true;
    copy_into_root(f.root_fd.get(), s);
    CHECK(slurp(f.root / "named/top") == "T");
}

ROOT_TEST_CASE("copy: hardlinks among copied files stay hardlinks") {
    Fixture f;
    put(f.ctx / "d/one", "same");
    stdfs::create_hard_link(f.ctx / "d/one", f.ctx / "d/two");
    stdfs::create_directories(f.ctx / "d/sub");
    stdfs::create_hard_link(f.ctx / "d/one", f.ctx / "d/sub/three");
    f.copy({"d"}, "/h");
    auto a = lstat_of(f.root / "h/one"), b = lstat_of(f.root / "h/two"), c = lstat_of(f.root / "h/sub/three");
    CHECK(a.st_ino == b.st_ino);
    CHECK(a.st_ino == c.st_ino);
    CHECK(a.st_nlink == 3);
    CHECK(a.st_ino != lstat_of(f.ctx / "d/one").st_ino);
}

ROOT_TEST_CASE("copy: a file onto a symlink in the image writes the link's target, in the root") {
    Fixture f;
    put(f.ctx / "new", "NEW");
    put(f.root / "real", "old");
    stdfs::create_symlink("/real", f.root / "abs-link");
    stdfs::create_directories(f.root / "etc");
    stdfs::create_symlink("../dangling-target", f.root / "etc/rel-link");
    f.copy({"new"}, "/abs-link");
    f.copy({"new"}, "/etc/rel-link");
    CHECK(stdfs::is_symlink(f.root / "abs-link"));
    CHECK(slurp(f.root / "real") == "NEW");
    CHECK(stdfs::is_symlink(f.root / "etc/rel-link"));
    CHECK(slurp(f.root / "dangling-target") == "NEW");
}

ROOT_TEST_CASE("copy: links of one file given as two sources land as two files") {
    Fixture f;
    put(f.ctx / "one", "same");
    stdfs::create_hard_link(f.ctx / "one", f.ctx / "two");
    f.copy({"one", "two"}, "/sep/");
    CHECK(lstat_of(f.root / "sep/one").st_ino != lstat_of(f.root / "sep/two").st_ino);
    CHECK(lstat_of(f.root / "sep/one").st_nlink == 1);
}

ROOT_TEST_CASE("copy: xattrs user.* and security.capability are copied") {
    Fixture f;
    put(f.ctx / "x", "x");
    if (::setxattr((f.ctx / "x").c_str(), "user.demo", "v1", 2, 0) != 0) {
        MESSAGE("no user xattrs on this filesystem; skipped");
        return;
    }
    // VFS_CAP_REVISION_2 with CAP_NET_BIND_SERVICE (bit 10) permitted, effective.
    const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00};
    const bool have_cap =
        is_root() && ::setxattr((f.ctx / "x").c_str(), "security.capability", cap, sizeof cap, 0) == 0;
    f.copy({"x"}, "/x");
    char buf[64];
    ssize_t n = ::getxattr((f.root / "x").c_str(), "user.demo", buf, sizeof buf);
    REQUIRE(n == 2);
    CHECK(std::string(buf, 2) == "v1");
    if (have_cap) {
        unsigned char got[20]{};
        CHECK(::getxattr((f.root / "x").c_str(), "security.capability", got, sizeof got) == sizeof cap);
        CHECK(std::memcmp(got, cap, sizeof cap) == 0);
    }
}

ROOT_TEST_CASE("copy: device nodes and fifos are recreated") {
    Fixture f;
    stdfs::create_directories(f.ctx / "dev");
    REQUIRE(::mkfifo((f.ctx / "dev/fifo").c_str(), 0640) == 0);
    if (::mknod((f.ctx / "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
        MESSAGE("mknod not permitted here; fifo only");
    }
    f.copy({"dev"}, "/dev");
    CHECK(S_ISFIFO(lstat_of(f.root / "dev/fifo").st_mode));
    CHECK((lstat_of(f.root / "dev/fifo").st_mode & 07777) == 0640);
    if (stdfs::exists(f.ctx / "dev/null")) {
        auto st = lstat_of(f.root / "dev/null");
        CHECK(S_ISCHR(st.st_mode));
        CHECK(st.st_rdev == makedev(1, 3));
    }
}

ROOT_TEST_CASE("copy: existing files are replaced; a file over a directory is an error naming both") {
    Fixture f;
    put(f.ctx / "d/conf", "new");
    put(f.ctx / "d/dir", "file");
    put(f.root / "etc/conf", "old");
    put(f.root / "out/conf", "old");
    stdfs::create_symlink("/etc/" + f.uniq, f.root / "out/dangling");
    put(f.ctx / "d/dangling", "replaced");
    f.copy({"d/conf"}, "/etc/conf");
    CHECK(slurp(f.root / "etc/conf") == "new");
    stdfs::create_directories(f.root / "out/dir/inner");
    CHECK_THROWS_WITH_AS(f.copy({"d"}, "/out"), doctest::Contains("/out/dir"), Error);
    CHECK_THROWS_WITH_AS(f.copy({"d"}, "/out"), doctest::Contains("d/dir"), Error);
    stdfs::remove_all(f.root / "out/dir");
    f.copy({"d"}, "/out");
    CHECK(slurp(f.root / "out/conf") == "new");
    CHECK(stdfs::is_regular_file(stdfs::symlink_status(f.root / "out/dangling")));
    // A directory over a file.
    put(f.root / "plain", "p");
    CHECK_THROWS_WITH_AS(f.copy({"d"}, "/plain"), doctest::Contains("/plain"), Error);
}

ROOT_TEST_CASE("copy: image symlinks are followed inside the root, never to the host") {
    Fixture f;
    put(f.ctx / "a.txt", "A");
    put(f.ctx / "d/b.txt", "B");
    f.copy({"a.txt"}, "/var/run/" + f.uniq);
    CHECK(slurp(f.root / "run" / f.uniq) == "A");
    f.copy({"a.txt"}, "/evil/etc/" + f.uniq);
    CHECK(slurp(f.root / "etc" / f.uniq) == "A");
    f.copy({"d"}, "/evil/" + f.uniq + "/");
    CHECK(slurp(f.root / f.uniq / "b.txt") == "B");
    f.copy({"a.txt"}, "/evil/../../../" + f.uniq + "-dots");
    CHECK(slurp(f.root / (f.uniq + "-dots")) == "A");
    // Symlinked dirs inside the image are merged into their in-root target.
    stdfs::create_directories(f.root / "usr/lib");
    stdfs::create_symlink("/usr/lib", f.root / "lib");
    put(f.ctx / "tree/lib/" / f.uniq, "L");
    f.copy({"tree"}, "/");
    CHECK(slurp(f.root / "usr/lib" / f.uniq) == "L");
    CHECK(stdfs::is_symlink(f.root / "lib"));
    write_file_in_root(f.root_fd.get(), "/var/run/" + f.uniq + ".heredoc", "hi\n", 0755, 0, 0);
    CHECK(slurp(f.root / "run" / (f.uniq + ".heredoc")) == "hi\n");
    CHECK((lstat_of(f.root / "run" / (f.uniq + ".heredoc")).st_mode & 07777) == 0755);
}

ROOT_TEST_CASE("copy: .dockerignore'd paths inside a copied dir are skipped") {
    Fixture f;
    put(f.ctx / "app/main.py", "m");
    put(f.ctx / "app/.env", "secret");
    put(f.ctx / "app/cache/x.pyc", "c");
    put(f.ctx / "app/cache/keep.txt", "k");
    auto ignore = IgnoreMatcher::from_text("**/.env\napp/cache\n!app/cache/keep.txt\n");
    CopySpec s = f.spec({"app"}, "/srv");
    s.ignore = &ignore;
    copy_into_root(f.root_fd.get(), s);
    CHECK(stdfs::exists(f.root / "srv/main.py"));
    CHECK_FALSE(stdfs::exists(f.root / "srv/.env"));
    CHECK_FALSE(stdfs::exists(f.root / "srv/cache/x.pyc"));
    CHECK(stdfs::exists(f.root / "srv/cache/keep.txt"));
}

ROOT_TEST_CASE("copy: large files stream intact") {
    Fixture f;
    std::string big(3 * 1024 * 1024 + 17, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    put(f.ctx / "big.bin", big);
    f.copy({"big.bin"}, "/big.bin");
    CHECK(slurp(f.root / "big.bin") == big);
}

ROOT_TEST_CASE("ADD: local archives are extracted by content, not by name") {
    Fixture f;
    put(f.ctx / "payload/dir/inner.txt", "inner");
    put(f.ctx / "payload/top.txt", "top", 0600);
    stdfs::create_symlink("top.txt", f.ctx / "payload/link");
    const std::string tar_cmd = "tar -C '" + (f.ctx / "payload").string() + "' --numeric-owner --owner=1000 --group=1000 -czf '" +
                                (f.ctx / "x.dat").string() + "' .";
    REQUIRE(std::system(tar_cmd.c_str()) == 0);
    put(f.ctx / "x.tar", "not a tar at all");
    put(f.ctx / "zeros.tar", std::string(1024, '\0'));

    CopySpec add = f.spec({"x.dat"}, "/opt/pkg");
    add.extract_archives = true;
    copy_into_root(f.root_fd.get(), add);
    CHECK(slurp(f.root / "opt/pkg/dir/inner.txt") == "inner");
    CHECK(slurp(f.root / "opt/pkg/top.txt") == "top");
    CHECK((lstat_of(f.root / "opt/pkg/top.txt").st_mode & 07777) == 0600);
    CHECK(stdfs::read_symlink(f.root / "opt/pkg/link") == "top.txt");
    if (is_root()) CHECK(lstat_of(f.root / "opt/pkg/top.txt").st_uid == 1000);

    CopySpec plain = f.spec({"x.tar", "zeros.tar"}, "/files/");
    plain.extract_archives = true;
    copy_into_root(f.root_fd.get(), plain);
    CHECK(slurp(f.root / "files/x.tar") == "not a tar at all");
    CHECK(stdfs::file_size(f.root / "files/zeros.tar") == 1024);

    // COPY never extracts.
    f.copy({"x.dat"}, "/copied/");
    CHECK(stdfs::is_regular_file(f.root / "copied/x.dat"));

    unique_fd fd = open_or_throw(f.ctx / "x.dat", O_RDONLY);
    CHECK(is_tar_archive(fd.get()));
    unique_fd fd2 = open_or_throw(f.ctx / "x.tar", O_RDONLY);
    CHECK_FALSE(is_tar_archive(fd2.get()));
}

ROOT_TEST_CASE("ADD: an archive cannot write outside its destination") {
    Fixture f;
    // A tar whose symlink points at / and whose next entry goes through it.
    stdfs::create_directories(f.ctx / "t");
    stdfs::create_symlink("/", f.ctx / "t/escape");
    const std::string cmd = "cd '" + (f.ctx / "t").string() + "' && tar -cf '" + (f.ctx / "evil.tar").string() +
                            "' escape && mkdir -p sub && echo pwn > sub/" + f.uniq + " && tar -rf '" +
                            (f.ctx / "evil.tar").string() + "' --transform 's,^sub,escape,' sub/" + f.uniq;
    REQUIRE(std::system(cmd.c_str()) == 0);
    CopySpec add = f.spec({"evil.tar"}, "/var/run/x/");
    add.extract_archives = true;
    try {
        copy_into_root(f.root_fd.get(), add);
    } catch (const Error&) {
    }
    CHECK_FALSE(stdfs::exists("/" + f.uniq));
    CHECK(stdfs::exists(f.root / "run/x/" / f.uniq));  // landed under the dest, its own root
}

ROOT_TEST_CASE("ADD url: the downloaded file is placed like a file, mode 0600") {
    Fixture f;
    put(f.tmp.path() / "download", "payload");
    unique_fd fd = open_or_throw(f.tmp.path() / "download", O_RDONLY);
    place_downloaded_file(f.root_fd.get(), "/var/run/", true, "file.tgz", fd.get());
    CHECK(slurp(f.root / "run/file.tgz") == "payload");
    CHECK((lstat_of(f.root / "run/file.tgz").st_mode & 07777) == 0600);
    timespec when{1'500'000'000, 0};
    place_downloaded_file(f.root_fd.get(), "/opt/named", false, "file.tgz", fd.get(), 0644, 0, 0, when);
    CHECK(slurp(f.root / "opt/named") == "payload");
    CHECK(lstat_of(f.root / "opt/named").st_mtim.tv_sec == 1'500'000'000);
}
