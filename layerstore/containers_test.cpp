#include <doctest/doctest.h>

#include "common/error.h"
#include "common/fs.h"
#include "layerstore/container_name_links.h"
#include "layerstore/containers.h"
#include "layerstore/store.h"
#include "layerstore/volumes.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;
namespace fs = std::filesystem;

namespace {

ContainerConfig sample_config(const std::string& id, const std::string& name) {
    ContainerConfig c;
    c.id = id;
    c.name = name;
    c.image = "busybox";
    c.image_id = "sha256:" + std::string(64, 'a');
    c.created = "2026-12-01T10:00:00Z";
    c.layers = {"l1", "l2"};
    c.argv = {"sh", "-c", "echo hi"};
    c.env = {"PATH=/bin", "A=b"};
    c.cwd = "/app";
    c.user = "1000:1000";
    c.hostname = "h";
    c.network = "none";
    c.cpu_period = 100000;
    c.cpu_quota = 20000;
    c.memory = 64 << 20;
    c.pids_limit = 10;
    c.mounts = {{"bind", "/host", "/ctr", true, false, ""},
                {"volume", "v1", "/data", false, true, ""},
                {"tmpfs", "", "/scratch", false, false, "size=1m"}};
    c.ports = {{"127.0.0.1", 8080, 80, "tcp"}};
    c.tty = true;
    c.init = true;
    c.auto_remove = true;
    c.stop_signal = "SIGINT";
    c.stop_timeout = 3;
    c.image_config = {{"Labels", {{"k", "v"}}}};
    return c;
}

struct Sandbox {
    TempDir dir{fs::temp_directory_path(), "imgbuild-containers-test"};
    Store store{dir.path() / "store"};
};

}  // namespace

TEST_CASE("container config and state round-trip through JSON") {
    ContainerConfig c = sample_config(std::string(64, '1'), "web");
    CHECK(container_config_from_json(to_json(c)) == c);
    ContainerState s;
    s.status = ContainerStatus::paused;
    s.pid = 42;
    s.monitor_pid = 41;
    s.monitor_start_time = 12345;
    s.exit_code = 137;
    s.started_at = "a";
    s.finished_at = "b";
    s.error = "the monitor died";
    s.cgroup_dirs = {"/sys/fs/cgroup/pids/imgbuild/x"};
    s.ports = {{"0.0.0.0", 40000, 80, "tcp"}};
    CHECK(container_state_from_json(to_json(s)) == s);
    CHECK(to_json(s)["status"] == "paused");
    // Old or partial records read with defaults; bad ones are errors.
    CHECK(container_state_from_json(nlohmann::json::object()).status == ContainerStatus::created);
    CHECK_THROWS_AS((void)container_state_from_json(nlohmann::json{{"status", "zombie"}}), Error);
    CHECK_THROWS_AS((void)container_config_from_json(nlohmann::json::array()), Error);
}

TEST_CASE("container records: create, find by id, prefix and name, state, remove") {
    Sandbox sb;
    Containers cs(sb.store);
    std::string a = "ab" + std::string(62, '0'), b = "ac" + std::string(62, '0');
    auto ca = sample_config(a, "web"), cb = sample_config(b, "");
    cs.create(ca);
    cs.create(cb);
    CHECK(!cb.name.empty());  // a generated name, docker style
    CHECK(cb.name.find('_') != std::string::npos);
    CHECK(cs.find(cb.name) == b);
    CHECK(cs.ids() == std::vector<std::string>{a, b});
    CHECK(cs.config(b).name == cb.name);
    CHECK(cs.find(a) == a);
    CHECK(cs.find("web") == a);
    CHECK(cs.find("ac") == b);
    CHECK_THROWS_AS((void)cs.find("a"), Error);  // ambiguous prefix
    CHECK(!cs.find("zz"));
    CHECK_THROWS_WITH_AS((void)cs.resolve("zz"), "no such container: zz", Error);
    CHECK(cs.config(a) == sample_config(a, "web"));
    CHECK(cs.state(a).status == ContainerStatus::created);
    for (const char* sub : {"upper", "work", "merged", "init"}) CHECK(fs::is_directory(cs.dir(a) / sub));

    // A name is unique; a bad name is refused.
    auto dup = sample_config(std::string(64, 'f'), "web"), bad = sample_config(std::string(64, 'e'), "-bad"),
         noid = sample_config("notanid", "x");
    CHECK_THROWS_AS(cs.create(dup), UsageError);
    CHECK_THROWS_AS(cs.create(bad), UsageError);
    CHECK_THROWS_AS(cs.create(noid), Error);
    // Two containers without a name never get the same one.
    auto c1 = sample_config(std::string(64, '3'), ""), c2 = sample_config(std::string(63, '3') + "4", "");
    cs.create(c1);
    cs.create(c2);
    CHECK(c1.name != c2.name);

    auto s = cs.update_state(a, [](ContainerState& st) {
        st.status = ContainerStatus::running;
        st.pid = 7;
    });
    CHECK(s.pid == 7);
    CHECK(cs.state(a).status == ContainerStatus::running);

    cs.remove(a);
    CHECK(cs.ids().size() == 3);
    CHECK(!fs::exists(cs.dir(a)));
    CHECK(!cs.find("web"));
}

TEST_CASE("name links: the id in 43 base64url characters (kept in an ext4 inode), old 64-hex links still read") {
    const std::string id = "0123456789abcdef" + std::string(47, 'f') + "e";
    const std::string target = name_link_target(id);
    CHECK(target.size() == 43);
    CHECK(target.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
    CHECK(id_of_name_link_target(target) == id);
    CHECK(id_of_name_link_target(name_link_target(std::string(64, '0'))) == std::string(64, '0'));
    CHECK(id_of_name_link_target(id) == id);  // a link of an earlier version
    for (std::string bad : {std::string(""), target.substr(1), target + "A", std::string(43, '='), std::string(43, '/'),
                            std::string(64, 'g'), "../" + target.substr(3)})
        CHECK_MESSAGE(id_of_name_link_target(bad).empty(), bad);
    // The last character carries 2 bits of the id and 4 of nothing: only one spelling is ours.
    std::string other = target;
    other.back() = other.back() == 'A' ? 'B' : 'A';
    CHECK((id_of_name_link_target(other).empty() || id_of_name_link_target(other) != id));

    Sandbox sb;
    Containers cs(sb.store);
    auto c = sample_config(id, "short");
    cs.create(c);
    CHECK(fs::read_symlink(cs.dir(id).parent_path() / "names" / "short").string() == target);
    CHECK(cs.find("short") == id);
    // A store written by an earlier version: the link holds the hex id.
    const std::string old_id = std::string(63, '7') + "1";
    auto o = sample_config(old_id, "");
    cs.create(o);
    fs::path old_link = cs.dir(old_id).parent_path() / "names" / o.name;
    fs::remove(old_link);
    fs::create_symlink(old_id, old_link);
    CHECK(cs.find(o.name) == old_id);
    auto dup = sample_config(std::string(64, '9'), o.name);
    CHECK_THROWS_AS(cs.create(dup), UsageError);  // the old link still holds its name
    cs.remove(old_id);
    CHECK(!fs::is_symlink(old_link));
}

TEST_CASE("container names follow docker's rule") {
    CHECK(valid_container_name("web"));
    CHECK(valid_container_name("a.b_c-1"));
    CHECK(!valid_container_name(""));
    CHECK(!valid_container_name("_x"));
    CHECK(!valid_container_name("a/b"));
    CHECK(!valid_container_name("a b"));
}

TEST_CASE("volumes: named create is idempotent, anonymous ones get an id, remove") {
    Sandbox sb;
    Volumes vs(sb.store);
    bool created = false;
    auto v = vs.create("data", false, {{"k", "v"}}, &created);
    CHECK(created);
    CHECK(v.mountpoint == sb.store.volumes_dir() / "data" / "_data");
    CHECK(fs::is_directory(v.mountpoint));
    auto again = vs.create("data", false, nlohmann::json::object(), &created);
    CHECK(!created);
    CHECK(again.labels["k"] == "v");
    auto anon = vs.create("", true);
    CHECK(anon.name.size() == 64);
    CHECK(vs.find(anon.name)->anonymous);
    CHECK(vs.list().size() == 2);
    CHECK_THROWS_AS(vs.create("../x", false), UsageError);
    vs.remove("data");
    CHECK(!vs.find("data"));
    CHECK_THROWS_AS(vs.remove("data"), Error);
}
