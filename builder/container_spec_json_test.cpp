#include "builder/container_spec_json.h"

#include <doctest/doctest.h>

#include "common/error.h"

using namespace imgbuild;
using namespace imgbuild::builder;

TEST_CASE("a container spec survives the trip to the RUN helper field by field") {
    runtime::ContainerSpec spec;
    spec.lower_dirs = {"/s/l/a", "/s/l/b"};
    spec.upper_dir = "/s/u";
    spec.work_dir = "/s/w";
    spec.merged_dir = "/s/m";
    spec.init_dir = "/s/i";
    spec.shared_init_layer = "/s/init-layer";
    spec.shared_init_staging_dir = "/s/tmp";
    spec.short_links_dir = "/s/l";
    spec.argv = {"/bin/sh", "-c", "echo \"a\\tb\" \xc3\xa9"};
    spec.env = {"PATH=/bin", "EMPTY="};
    spec.cwd = "/app";
    spec.user = "1000:1000";
    spec.hostname = "h";
    spec.binds = {{"/host/a", "/a", true}, {"/host/b", "/b", false}};
    spec.tmpfs = {{"/t", "size=1m", true}};
    spec.network = runtime::NetworkMode::none;
    spec.join_netns_fd = 9;
    spec.limits.cpu_quota_us = 50000;
    spec.limits.memory_bytes = 1 << 20;
    spec.limits.pids = -1;
    spec.tty = true;
    spec.interactive = true;
    spec.init = true;
    spec.forward_signals = false;
    spec.rootless = true;
    spec.uid_map = {{0, 1000, 1}, {1, 100000, 65536}};
    spec.gid_map = {{0, 1000, 1}};
    spec.volatile_overlay = false;
    spec.cgroup_name = "imgbuild-x";

    runtime::ContainerSpec back = container_spec_from_json(container_spec_to_json(spec), "test");
    CHECK(back.lower_dirs == spec.lower_dirs);
    CHECK(back.upper_dir == spec.upper_dir);
    CHECK(back.work_dir == spec.work_dir);
    CHECK(back.merged_dir == spec.merged_dir);
    CHECK(back.init_dir == spec.init_dir);
    CHECK(back.shared_init_layer == spec.shared_init_layer);
    CHECK(back.shared_init_staging_dir == spec.shared_init_staging_dir);
    CHECK(back.short_links_dir == spec.short_links_dir);
    CHECK(back.argv == spec.argv);
    CHECK(back.env == spec.env);
    CHECK(back.cwd == "/app");
    CHECK(back.user == "1000:1000");
    CHECK(back.hostname == "h");
    REQUIRE(back.binds.size() == 2);
    CHECK(back.binds[0].source == "/host/a");
    CHECK(back.binds[0].target == "/a");
    CHECK(back.binds[0].read_only);
    CHECK_FALSE(back.binds[1].read_only);
    REQUIRE(back.tmpfs.size() == 1);
    CHECK(back.tmpfs[0].options == "size=1m");
    CHECK(back.tmpfs[0].read_only);
    CHECK(back.network == runtime::NetworkMode::none);
    CHECK(back.join_netns_fd >= 0);
    CHECK(back.limits.cpu_quota_us == spec.limits.cpu_quota_us);
    CHECK_FALSE(back.limits.cpu_period_us.has_value());
    CHECK(back.limits.memory_bytes == spec.limits.memory_bytes);
    CHECK(back.limits.pids == spec.limits.pids);
    CHECK(back.tty);
    CHECK(back.interactive);
    CHECK(back.init);
    CHECK_FALSE(back.forward_signals);
    CHECK(back.rootless);
    REQUIRE(back.uid_map.size() == 2);
    CHECK(back.uid_map[1].host_id == 100000);
    CHECK(back.uid_map[1].count == 65536);
    REQUIRE(back.gid_map.size() == 1);
    CHECK_FALSE(back.volatile_overlay);
    CHECK(back.cgroup_name == "imgbuild-x");
}

TEST_CASE("a damaged spec is an error naming what it was") {
    CHECK_THROWS_WITH_AS((void)container_spec_from_json("{\"argv\":[]}", "RUN helper spec"),
                         doctest::Contains("RUN helper spec: not a container spec"), Error);
}
