#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "common/fs.h"
#include "runtime/cgroup.h"
#include "runtime/container_log.h"
#include "runtime/container_procs.h"

using namespace imgbuild;
using namespace imgbuild::runtime;

TEST_CASE("log records: one per line, partial lines marked P, every byte kept") {
    std::string ts = "2026-12-01T00:00:00.000000001Z";
    CHECK(format_log_records(ts, 1, "a\nb\n") == ts + " stdout F a\n" + ts + " stdout F b\n");
    CHECK(format_log_records(ts, 2, "no newline") == ts + " stderr P no newline\n");
    CHECK(format_log_records(ts, 1, "\n") == ts + " stdout F \n");
    CHECK(format_log_records(ts, 1, "").empty());
    // The record's fields are views into the line: it must outlive them.
    std::string line = ts + " stderr P x y";
    auto r = parse_log_record(line);
    REQUIRE(r);
    CHECK(r->stream == 2);
    CHECK(r->partial);
    CHECK(r->text == "x y");
    CHECK(r->timestamp == ts);
    std::string empty_line = ts + " stdout F ";
    auto empty = parse_log_record(empty_line);
    REQUIRE(empty);
    CHECK(empty->text.empty());
    CHECK(!parse_log_record("garbage"));
    CHECK(!parse_log_record(ts + " stdin F x"));
    CHECK(!parse_log_record(ts + " stdout Q x"));
    CHECK(log_timestamp_now().size() == ts.size());
}

TEST_CASE("planned cgroup dirs: every dir create_cgroup makes is among them (root only)") {
    std::string name = "imgbuild-plantest-" + random_hex(6);
    auto planned = planned_cgroup_dirs(name);
    CHECK(!planned.empty());
    for (const auto& d : planned) CHECK(d.size() > name.size() + 9);
    for (const auto& d : planned) CHECK(d.compare(d.size() - name.size() - 9, std::string::npos, "imgbuild/" + name) == 0);
    if (::geteuid() != 0) {
        std::cerr << "container_log_test: not root, skipping the comparison with a real cgroup\n";
        return;
    }
    Limits limits;
    limits.pids = 100;
    limits.memory_bytes = 64 << 20;
    auto cg = create_cgroup(name, limits, true);
    // What it made, found on disk: <hierarchy>/imgbuild/<name> (v2, or v1 per controller).
    std::vector<std::string> made;
    std::error_code ec;
    for (const auto& top : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
        for (const auto& dir : {top.path() / "imgbuild" / name, top.path().parent_path() / "imgbuild" / name})
            if (std::filesystem::is_directory(dir, ec) &&
                std::find(made.begin(), made.end(), dir.string()) == made.end())
                made.push_back(dir.string());
    }
    CHECK(!made.empty());
    for (const auto& d : made) CHECK_MESSAGE(std::find(planned.begin(), planned.end(), d) != planned.end(), d);
}
