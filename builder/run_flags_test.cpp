#include <doctest/doctest.h>

#include "builder/container_spec.h"
#include "builder/run_flags.h"
#include "common/error.h"
#include "common/fs.h"

using namespace imgbuild;
using namespace imgbuild::builder;
using layerstore::MountRecord;
using layerstore::PortRecord;

TEST_CASE("-v: anonymous, named, bind, options") {
    auto anon = parse_volume_flag("/data");
    CHECK(anon.type == "volume");
    CHECK(anon.anonymous);
    CHECK(anon.destination == "/data");
    auto named = parse_volume_flag("cache:/var/cache:ro");
    CHECK(named.type == "volume");
    CHECK(named.source == "cache");
    CHECK(!named.anonymous);
    CHECK(named.read_only);
    auto bind = parse_volume_flag("/home:/test");
    CHECK(bind.type == "bind");
    CHECK(bind.source == "/home");
    CHECK(bind.destination == "/test");
    CHECK(!bind.read_only);
    CHECK(parse_volume_flag("/a:/b:rw").read_only == false);
    CHECK_THROWS_AS((void)parse_volume_flag("relative"), UsageError);
    CHECK_THROWS_AS((void)parse_volume_flag("/a:rel"), UsageError);
    CHECK_THROWS_AS((void)parse_volume_flag("/a:/b:rx"), UsageError);
    CHECK_THROWS_AS((void)parse_volume_flag("a/b:/c"), UsageError);
    CHECK_THROWS_AS((void)parse_volume_flag("/a:/b:ro:x"), UsageError);
}

TEST_CASE("--mount: bind, volume, tmpfs") {
    auto b = parse_mount_flag("type=bind,source=/h,target=/c,readonly");
    CHECK(b == MountRecord{"bind", "/h", "/c", true, false, ""});
    auto v = parse_mount_flag("type=volume,src=data,dst=/d");
    CHECK(v == MountRecord{"volume", "data", "/d", false, false, ""});
    CHECK(parse_mount_flag("type=volume,target=/d").anonymous);
    auto t = parse_mount_flag("type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1777");
    CHECK(t.type == "tmpfs");
    CHECK(t.tmpfs_options == "size=64m,mode=1777");
    CHECK_THROWS_AS((void)parse_mount_flag("type=nfs,target=/x"), UsageError);
    CHECK_THROWS_AS((void)parse_mount_flag("type=bind,source=rel,target=/x"), UsageError);
    CHECK_THROWS_AS((void)parse_mount_flag("type=bind,source=/a,target=/x,bogus=1"), UsageError);
    CHECK_THROWS_AS((void)parse_mount_flag("type=tmpfs,source=/a,target=/x"), UsageError);
    CHECK_THROWS_AS((void)parse_mount_flag("type=volume"), UsageError);
}

TEST_CASE("-p and -P") {
    CHECK(parse_publish_flag("8080:80") == PortRecord{"0.0.0.0", 8080, 80, "tcp"});
    CHECK(parse_publish_flag("127.0.0.1:8080:80/tcp") == PortRecord{"127.0.0.1", 8080, 80, "tcp"});
    CHECK(parse_publish_flag("80") == PortRecord{"0.0.0.0", 0, 80, "tcp"});
    CHECK(parse_publish_flag("127.0.0.1::80") == PortRecord{"127.0.0.1", 0, 80, "tcp"});
    CHECK(parse_publish_flag("53:53/udp").protocol == "udp");
    CHECK_THROWS_AS((void)parse_publish_flag("x:80"), UsageError);
    CHECK_THROWS_AS((void)parse_publish_flag("70000:80"), UsageError);
    CHECK_THROWS_AS((void)parse_publish_flag("80/icmp"), UsageError);
    auto all = publish_all({{"80/tcp", nlohmann::json::object()}, {"443", nlohmann::json::object()}});
    REQUIRE(all.size() == 2);
    CHECK(all[0].container_port == 443);
    CHECK(all[1].container_port == 80);
    CHECK(all[1].host_port == 0);
}

TEST_CASE("make_container_spec: the one image + options -> spec function") {
    TempDir dir(std::filesystem::temp_directory_path(), "imgbuild-spec-test");
    nlohmann::json cfg = {{"Entrypoint", {"/entry"}}, {"Cmd", {"a", "b"}}, {"Env", {"PATH=/bin", "X=1"}},
                          {"WorkingDir", "/w"}, {"User", "app"}};
    RunOptions o;
    o.hostname_default = "abc";
    auto spec = make_container_spec({}, cfg, o, dir.path(), {});
    CHECK(spec.argv == std::vector<std::string>{"/entry", "a", "b"});
    CHECK(spec.env == std::vector<std::string>{"HOSTNAME=abc", "PATH=/bin", "X=1"});
    CHECK(spec.cwd == "/w");
    CHECK(spec.user == "app");
    CHECK(spec.hostname == "abc");
    CHECK(spec.upper_dir == dir.path() / "upper");
    o.cmd = {"c"};
    CHECK(make_container_spec({}, cfg, o, dir.path(), {}).argv == std::vector<std::string>{"/entry", "c"});
    o.entrypoint = std::vector<std::string>{};
    CHECK(make_container_spec({}, cfg, o, dir.path(), {}).argv == std::vector<std::string>{"c"});
    o.cmd.clear();
    CHECK_THROWS_AS((void)make_container_spec({}, cfg, o, dir.path(), {}), UsageError);  // --entrypoint "" and no cmd
    RunOptions step;  // a RUN step: argv and env given whole
    step.argv = std::vector<std::string>{"sh", "-c", "make"};
    step.env = std::vector<std::string>{"A=1"};
    step.user = "";
    auto s2 = make_container_spec({}, cfg, step, dir.path(), {});
    CHECK(s2.argv == *step.argv);
    CHECK(s2.env == *step.env);
    CHECK(s2.user.empty());
    o.extra_env = {"X=2", "NEW=3"};
    o.cmd = {"c"};
    CHECK(make_container_spec({}, cfg, o, dir.path(), {}).env ==
          std::vector<std::string>{"HOSTNAME=abc", "PATH=/bin", "X=2", "NEW=3"});
}
