// Real containers over a busybox rootfs (root only; skipped with a message otherwise).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/capabilities.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/start_ahead.h"
#include "tests/skip_unless.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

namespace {

// Real containers need root and a static busybox to run in them.
bool can_run_containers() { return ::geteuid() == 0 && ::access("/bin/busybox", X_OK) == 0; }

// A real-container case: skipped (and said so) unless root with /bin/busybox.
#define CONTAINER_TEST_CASE(name) \
    TEST_CASE(name * ::imgbuild::testing::skip_unless(can_run_containers(), name, "needs root and /bin/busybox"))

void sh(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw Error("command failed: " + cmd);
}

// A one-layer busybox image in a temp dir, shared by the cases of this binary.
struct Image {
    TempDir dir{fs::temp_directory_path(), "imgbuild-rt-image"};
    fs::path layer = dir.path() / "layer";
    Image() {
        sh("set -e; L=" + layer.string() +
           "; mkdir -p $L/bin $L/etc $L/tmp $L/root $L/home/app; cp /bin/busybox $L/bin/busybox;"
           " for a in $(/bin/busybox --list); do [ $a = busybox ] || ln -s busybox $L/bin/$a; done;"
           " printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000:app:/home/app:/bin/sh\\n' > $L/etc/passwd;"
           " printf 'root:x:0:\\napp:x:1000:\\nextra:x:2000:app\\n' > $L/etc/group;"
           " printf 'echo hi\\n' > $L/bin/noexec; chmod 644 $L/bin/noexec");
    }
};

Image& image() {
    static Image img;
    return img;
}

struct Run {
    int status = -1;
    std::string out, err;
};

// A fresh container dir per run (upper/work/merged/init), removed after.
struct Container {
    TempDir dir{fs::temp_directory_path(), "imgbuild-rt-c"};
    ContainerSpec spec;
    Container() {
        for (const char* d : {"upper", "work", "merged", "init"}) make_dirs(dir.path() / d);
        spec.lower_dirs = {image().layer};
        spec.upper_dir = dir.path() / "upper";
        spec.work_dir = dir.path() / "work";
        spec.merged_dir = dir.path() / "merged";
        spec.init_dir = dir.path() / "init";
        spec.hostname = "testbox";
        spec.env = {"PATH=/bin"};
        spec.stdin_fd = -1;
    }
    Run run(std::vector<std::string> argv) {
        Run r;
        spec.argv = std::move(argv);
        spec.on_output = [&](int stream, std::string_view d) { (stream == 1 ? r.out : r.err).append(d); };
        r.status = run_container(spec);
        return r;
    }
};

Run run_sh(const std::string& script) { return Container().run({"sh", "-c", script}); }

std::string host_ns(const char* name) {
    return fs::read_symlink(fs::path("/proc/self/ns") / name).string();
}

}  // namespace

CONTAINER_TEST_CASE("container: the command is PID 1 with its own hostname and namespaces") {
    auto r = run_sh("echo $$; hostname; for n in pid mnt uts ipc net cgroup; do readlink /proc/self/ns/$n; done");
    CHECK(r.status == 0);
    std::istringstream in(r.out);
    std::string line;
    std::getline(in, line);
    CHECK(line == "1");
    std::getline(in, line);
    CHECK(line == "testbox");
    for (const char* n : {"pid", "mnt", "uts", "ipc", "net", "cgroup"}) {
        std::getline(in, line);
        CHECK_MESSAGE(line != host_ns(n), n);
        CHECK(line.rfind(std::string(n) + ":[", 0) == 0);
    }
    CHECK(r.err.empty());
}

CONTAINER_TEST_CASE("container: exit statuses") {
    CHECK(run_sh("exit 0").status == 0);
    CHECK(run_sh("exit 3").status == 3);
    CHECK(run_sh("sleep 10 & kill -9 $!; wait $!").status == 137);
    auto nf = Container().run({"does-not-exist"});
    CHECK(nf.status == 127);
    CHECK(nf.err.find("executable file not found") != std::string::npos);
    CHECK(Container().run({"/bin/noexec"}).status == 126);
}

CONTAINER_TEST_CASE("container: capabilities, fds, no_new_privs, seccomp") {
    auto r = run_sh("grep -E '^(CapInh|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; ls /proc/self/fd");
    CHECK(r.status == 0);
    CHECK(r.out.find("CapInh:\t0000000000000000") != std::string::npos);
    CHECK(r.out.find("CapEff:\t00000000a80425fb") != std::string::npos);
    CHECK(r.out.find("CapBnd:\t00000000a80425fb") != std::string::npos);
    CHECK(r.out.find("NoNewPrivs:\t1") != std::string::npos);
    CHECK(r.out.find("Seccomp:\t2") != std::string::npos);
    // 0 1 2 and the directory fd of ls itself
    CHECK(r.out.size() > 9);
    CHECK(r.out.substr(r.out.size() - 9) == "\n0\n1\n2\n3\n");

    auto denied = run_sh("echo x > /proc/sys/kernel/hostname && echo wrote; mount -t tmpfs t /mnt && echo mounted;"
                         " unshare -n true && echo unshared; exit 0");
    CHECK(denied.out.find("wrote") == std::string::npos);
    CHECK(denied.out.find("mounted") == std::string::npos);
    CHECK(denied.out.find("unshared") == std::string::npos);
}

CONTAINER_TEST_CASE("container: user, groups, cwd, env") {
    Container c;
    c.spec.user = "app";
    c.spec.cwd = "/work/dir";
    c.spec.env.push_back("FOO=bar");
    auto r = c.run({"sh", "-c", "id; pwd; echo $FOO $HOME; grep CapEff /proc/self/status"});
    CHECK(r.status == 0);
    CHECK_MESSAGE(r.out.find("uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)") != std::string::npos, r.out);
    CHECK(r.out.find("/work/dir\n") != std::string::npos);
    CHECK(r.out.find("bar /home/app") != std::string::npos);
    CHECK(r.out.find("CapEff:\t0000000000000000") != std::string::npos);

    Container bad;
    bad.spec.user = "nosuchuser";
    CHECK_THROWS_WITH_AS((void)bad.run({"true"}), doctest::Contains("nosuchuser"), Error);
}

CONTAINER_TEST_CASE("container: network none has only lo, up; /etc files come from the init dir") {
    Container c;
    c.spec.network = NetworkMode::none;
    auto r = c.run({"sh", "-c", "ls /sys/class/net; cat /etc/hostname; grep -c testbox /etc/hosts; cat /sys/class/net/lo/operstate"});
    CHECK(r.status == 0);
    CHECK(r.out == "lo\ntestbox\n1\nunknown\n");
    // Nothing was written into the upper dir by the runtime itself.
    CHECK(fs::is_empty(c.spec.upper_dir));
}

CONTAINER_TEST_CASE("container: network none and the cgroup made ahead (StartAhead): joined, only lo, up, not the host's") {
    Container c;
    c.spec.network = NetworkMode::none;
    c.spec.cgroup_name = "imgbuild-test-ahead-" + random_hex(4);
    auto dir_exists = [&] {
        for (const char* root : {"/sys/fs/cgroup/pids/imgbuild", "/sys/fs/cgroup/unified/imgbuild", "/sys/fs/cgroup/imgbuild"})
            if (fs::exists(fs::path(root) / c.spec.cgroup_name)) return true;
        return false;
    };
    {
        StartAhead ahead({true, c.spec.cgroup_name, c.spec.limits});
        struct stat ns {};
        REQUIRE(::fstat(ahead.network_fd(), &ns) == 0);
        const std::string made = "net:[" + std::to_string(ns.st_ino) + "]";
        CHECK(made != host_ns("net"));
        REQUIRE(ahead.cgroup() != nullptr);
        CHECK(dir_exists());
        c.spec.join_netns_fd = ahead.network_fd();
        c.spec.cgroup = ahead.cgroup();
        std::string seen;
        c.spec.on_started = [&](pid_t pid) { seen = read_file("/proc/" + std::to_string(pid) + "/cgroup"); };
        auto r = c.run({"sh", "-c", "readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/flags"});
        CHECK(r.status == 0);
        // IFF_UP (0x1) and IFF_LOOPBACK (0x8) set: 0x9
        CHECK(r.out == made + "\nlo\n0x9\n");
        CHECK_MESSAGE(seen.find("/" + c.spec.cgroup_name) != std::string::npos, seen);
        CHECK(host_ns("net") != made);  // this process never entered it
        CHECK(dir_exists());            // the container is gone, the cgroup is the holder's
    }
    CHECK_FALSE(dir_exists());  // removed with the StartAhead
    StartAhead nothing({false, "", {}});
    CHECK(nothing.network_fd() == -1);
    CHECK(nothing.cgroup() == nullptr);
}

CONTAINER_TEST_CASE("container: containers run one after another in a cgroup the caller keeps (ContainerSpec::cgroup)") {
    Container c;
    c.spec.network = NetworkMode::none;
    c.spec.cgroup_name = "imgbuild-test-kept-" + random_hex(4);
    std::unique_ptr<Cgroup> kept = create_container_cgroup(c.spec);
    REQUIRE(kept);
    c.spec.cgroup = kept.get();
    // The host's view of the command's cgroups, read while it runs.
    std::string seen;
    c.spec.on_started = [&](pid_t pid) { seen = read_file("/proc/" + std::to_string(pid) + "/cgroup"); };
    for (int i = 0; i < 2; ++i) {
        seen.clear();
        auto r = c.run({"true"});
        CHECK(r.status == 0);
        CHECK_MESSAGE(seen.find("/" + c.spec.cgroup_name) != std::string::npos, seen);
        // Kept: the next container joins it again.
        CHECK(std::string(read_file("/proc/self/cgroup")).find(c.spec.cgroup_name) == std::string::npos);
    }
    auto dir_exists = [&] {
        for (const char* root : {"/sys/fs/cgroup/pids/imgbuild", "/sys/fs/cgroup/unified/imgbuild", "/sys/fs/cgroup/imgbuild"})
            if (fs::exists(fs::path(root) / c.spec.cgroup_name)) return true;
        return false;
    };
    CHECK(dir_exists());
    kept.reset();
    CHECK_FALSE(dir_exists());
}

CONTAINER_TEST_CASE("container: binds are resolved in the root, ro binds are read-only") {
    TempDir host(fs::temp_directory_path(), "imgbuild-rt-bind");
    sh("echo data > " + (host.path() / "f").string());
    Container c;
    c.spec.binds = {{host.path(), "/mnt/rw", false}, {host.path(), "/mnt/ro", true}};
    auto r = c.run({"sh", "-c", "cat /mnt/ro/f; echo new > /mnt/rw/g; echo bad > /mnt/ro/h || echo refused"});
    CHECK(r.status == 0);
    CHECK(r.out == "data\nrefused\n");
    CHECK(fs::exists(host.path() / "g"));
    CHECK_FALSE(fs::exists(host.path() / "h"));
}

CONTAINER_TEST_CASE("container: an image whose /proc is a symlink fails cleanly") {
    TempDir evil(fs::temp_directory_path(), "imgbuild-rt-evil");
    TempDir target(fs::temp_directory_path(), "imgbuild-rt-target");
    fs::create_symlink(target.path(), evil.path() / "proc");
    Container c;
    c.spec.lower_dirs.push_back(evil.path());
    CHECK_THROWS_WITH_AS((void)c.run({"true"}), doctest::Contains("/proc"), Error);
    CHECK(fs::is_empty(target.path()));
}

CONTAINER_TEST_CASE("container: limits (memory kills with 137, pids stop forks)") {
    Container mem;
    mem.spec.limits.memory_bytes = 32 << 20;
    CHECK(mem.run({"tail", "/dev/zero"}).status == 137);

    Container pids;
    pids.spec.limits.pids = 5;
    auto r = pids.run({"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait"});
    CHECK(r.err.find("fork") != std::string::npos);
}

CONTAINER_TEST_CASE("container: init mode, FROM scratch, pipes and on_started") {
    Container c;
    c.spec.init = true;
    pid_t started = 0;
    c.spec.on_started = [&](pid_t p) { started = p; };
    auto r = c.run({"sh", "-c", "echo $$; (sleep 0 &); exit 4"});
    CHECK(r.status == 4);
    CHECK(r.out != "1\n");
    CHECK(started > 0);

    // FROM scratch: no lower dirs, the whole rootfs is the upper dir.
    Container scratch;
    scratch.spec.lower_dirs.clear();
    sh("cp -a " + image().layer.string() + "/. " + scratch.spec.upper_dir.string());
    auto s = scratch.run({"sh", "-c", "echo scratch; touch /made"});
    CHECK(s.status == 0);
    CHECK(s.out == "scratch\n");
    CHECK(fs::exists(scratch.spec.upper_dir / "made"));
    CHECK_FALSE(fs::exists(scratch.spec.upper_dir / "proc"));

    // Plain fds (a pipe) instead of on_output.
    int p[2];
    REQUIRE(::pipe(p) == 0);
    Container piped;
    piped.spec.argv = {"echo", "through a pipe"};
    piped.spec.stdout_fd = p[1];
    CHECK(run_container(piped.spec) == 0);
    ::close(p[1]);
    char buf[64] = {};
    CHECK(::read(p[0], buf, sizeof buf) == 15);
    ::close(p[0]);
    CHECK(std::string(buf) == "through a pipe\n");
}

CONTAINER_TEST_CASE("container: before_exec runs while the child sets up; the command waits for it, and never runs when it throws") {
    TempDir shared(fs::temp_directory_path(), "imgbuild-rt-gate");
    {
        Container c;
        c.spec.network = NetworkMode::none;  // no network sync to hold the child back instead
        c.spec.binds.push_back({shared.path(), "/shared", false});
        bool called = false;
        c.spec.before_exec = [&] {
            called = true;
            ::usleep(100 * 1000);  // the child is set up by now; it must still wait
            std::ofstream(shared.path() / "gate") << "open";
        };
        auto r = c.run({"cat", "/shared/gate"});
        CHECK(called);
        CHECK(r.status == 0);
        CHECK(r.out == "open");
    }
    {
        Container c;
        c.spec.network = NetworkMode::none;
        c.spec.binds.push_back({shared.path(), "/shared", false});
        struct Refused {};
        c.spec.before_exec = [] { throw Refused{}; };
        c.spec.argv = {"touch", "/shared/ran"};
        CHECK_THROWS_AS((void)run_container(c.spec), Refused);
        CHECK_FALSE(fs::exists(shared.path() / "ran"));
        // Killed before the exec: at most the bind's mount point, if the child had got that far.
        for (const auto& e : fs::directory_iterator(c.spec.upper_dir)) {
            CHECK(e.path().filename() == "shared");
            CHECK(fs::is_empty(e.path()));
        }
    }
}

CONTAINER_TEST_CASE("container: keep_mount_namespace leaves the ended container's mounts to the holder") {
    Container c;
    c.spec.network = NetworkMode::none;
    unique_fd held;
    c.spec.keep_mount_namespace = &held;
    auto r = c.run({"sh", "-c", "echo kept > /marker"});
    REQUIRE(r.status == 0);
    REQUIRE(held);
    const std::string ns = fs::read_symlink("/proc/self/fd/" + std::to_string(held.get())).string();
    CHECK(ns.rfind("mnt:[", 0) == 0);
    CHECK(ns != host_ns("mnt"));
    // Its command has exited, yet its root (the overlay) is still mounted in it: a process that
    // joins it finds the container's files at / (setns of a mount namespace sets the root).
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::setns(held.get(), CLONE_NEWNS) != 0) ::_exit(2);
        std::ifstream in("/marker");
        std::string word;
        in >> word;
        ::_exit(word == "kept" && fs::exists("/bin/busybox") ? 0 : 3);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
