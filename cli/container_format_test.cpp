#include <doctest/doctest.h>

#include "cli/container_format.h"
#include "cli/template_format.h"
#include "common/error.h"

using namespace imgbuild;
using namespace imgbuild::cli;
using layerstore::ContainerState;
using layerstore::ContainerStatus;
using nlohmann::json;

TEST_CASE("human durations as docker prints them") {
    CHECK(human_duration(0) == "Less than a second");
    CHECK(human_duration(1) == "1 second");
    CHECK(human_duration(45) == "45 seconds");
    CHECK(human_duration(90) == "About a minute");
    CHECK(human_duration(600) == "10 minutes");
    CHECK(human_duration(3600) == "About an hour");
    CHECK(human_duration(5 * 3600) == "5 hours");
    CHECK(human_duration(3 * 86400) == "3 days");
    CHECK(human_duration(20 * 86400) == "2 weeks");
}

TEST_CASE("ps: status, command, ports, table") {
    int64_t start = parse_rfc3339("2026-12-01T10:00:00.123Z");
    CHECK(start == 1796119200);
    ContainerState s;
    CHECK(status_text(s, start) == "Created");
    s.status = ContainerStatus::running;
    s.started_at = "2026-12-01T10:00:00Z";
    CHECK(status_text(s, start + 5) == "Up 5 seconds");
    s.status = ContainerStatus::paused;
    CHECK(status_text(s, start + 5) == "Up 5 seconds (Paused)");
    s.status = ContainerStatus::exited;
    s.exit_code = 137;
    s.finished_at = "2026-12-01T10:01:00Z";
    CHECK(status_text(s, start + 180) == "Exited (137) 2 minutes ago");
    CHECK(command_text({"/app/app.sh"}) == "\"/app/app.sh\"");
    CHECK(command_text({"sh", "-c", "echo hello; echo there"}) == "\"sh -c echo hello; e…\"");
    CHECK(command_text({"sh", "-c", "echo hello; echo there"}, false) == "\"sh -c echo hello; echo there\"");
    CHECK(ports_text({{"0.0.0.0", 8080, 80, "tcp"}, {"127.0.0.1", 1, 2, "tcp"}}) == "0.0.0.0:8080->80/tcp, 127.0.0.1:1->2/tcp");

    PsRow r{"0123456789ab", "helloworld", "\"/app/app.sh\"", "5 seconds ago", "Up 5 seconds", "0.0.0.0:8080->80/tcp", "web"};
    std::string table = ps_table({r});
    CHECK(table ==
          "CONTAINER ID   IMAGE        COMMAND         CREATED         STATUS         PORTS                  NAMES\n"
          "0123456789ab   helloworld   \"/app/app.sh\"   5 seconds ago   Up 5 seconds   0.0.0.0:8080->80/tcp   web\n");
    // "…" counts as one column.
    PsRow t = r;
    t.command = command_text({"sh", "-c", "echo hello; echo there"});
    auto lines = ps_table({t});
    CHECK(lines.find("\"sh -c echo hello; e…\"   5 seconds ago") != std::string::npos);
}

TEST_CASE("inspect JSON has docker's shape") {
    layerstore::ContainerConfig c;
    c.id = std::string(64, 'a');
    c.name = "web";
    c.argv = {"/app/app.sh", "x"};
    c.cpu_quota = 20000;
    c.mounts = {{"bind", "/home", "/test", true, false, ""}};
    c.ports = {{"0.0.0.0", 8080, 80, "tcp"}};
    c.image_config = {{"Cmd", {"/app/app.sh"}}};
    ContainerState s;
    s.status = ContainerStatus::running;
    s.pid = 99;
    s.ports = c.ports;
    ContainerPaths p;
    p.upper_dir = "/s/containers/a/upper";
    json j = inspect_json(c, s, p);
    CHECK(j["Name"] == "/web");
    CHECK(j["Path"] == "/app/app.sh");
    CHECK(j["Args"] == json::array({"x"}));
    CHECK(j["State"]["Pid"] == 99);
    CHECK(j["State"]["Running"] == true);
    CHECK(j["HostConfig"]["CpuQuota"] == 20000);
    CHECK(j["HostConfig"]["Binds"] == json::array({"/home:/test:ro"}));
    CHECK(j["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"] == "8080");
    CHECK(j["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"] == "8080");
    CHECK(j["GraphDriver"]["Data"]["UpperDir"] == "/s/containers/a/upper");
    CHECK(j["Config"]["ExposedPorts"].contains("80/tcp"));
    CHECK(j["Config"]["Labels"] == json::object());
    CHECK(j["Mounts"][0]["Destination"] == "/test");
    s.status = ContainerStatus::exited;
    CHECK(inspect_json(c, s, p)["State"]["Pid"] == 0);
}

TEST_CASE("templates: fields, json, index, range, len, join, errors") {
    json d = {{"State", {{"Pid", 42}, {"Running", true}}},
              {"Config", {{"Env", {"A=1", "B=2"}}, {"Labels", {{"k", "v"}, {"a.b", "c"}}}, {"Cmd", nullptr}}},
              {"Mounts", json::array({{{"Destination", "/a"}}, {{"Destination", "/b"}}})},
              {"Name", "/web"}};
    CHECK(render_template("{{ .State.Pid }}", d) == "42");
    CHECK(render_template("{{.State.Running}}", d) == "true");
    CHECK(render_template("{{.Config.Env}}", d) == "[A=1 B=2]");
    CHECK(render_template("{{json .Mounts}}", d) == R"([{"Destination":"/a"},{"Destination":"/b"}])");
    CHECK(render_template("{{index .Config.Labels \"a.b\"}}", d) == "c");
    CHECK(render_template("{{index .Config.Labels \"nope\"}}", d) == "<no value>");
    CHECK(render_template("{{index .Config.Env 1}}", d) == "B=2");
    CHECK(render_template("{{range .Mounts}}{{.Destination}} {{end}}", d) == "/a /b ");
    CHECK(render_template("{{range .Config.Env}}[{{.}}]{{end}}", d) == "[A=1][B=2]");
    CHECK(render_template("{{range .Config.Cmd}}x{{end}}", d).empty());
    CHECK(render_template("{{len .Mounts}} {{join .Config.Env \",\"}}", d) == "2 A=1,B=2");
    CHECK(render_template("{{.Config.Labels}}", d) == "map[a.b:c k:v]");
    CHECK(render_template("x {{- .Name -}} y", d) == "x/weby");
    CHECK(render_template("{{.Config.Cmd}}", d) == "<no value>");
    CHECK_THROWS_WITH_AS((void)render_template("{{.State.Nope}}", d), "template: no field \"Nope\" in .State", UsageError);
    CHECK_THROWS_AS((void)render_template("{{.Nope}}", d), UsageError);
    CHECK_THROWS_AS((void)render_template("{{range .Mounts}}", d), UsageError);
    CHECK_THROWS_AS((void)render_template("{{end}}", d), UsageError);
    CHECK_THROWS_AS((void)render_template("{{printf \"%s\" .Name}}", d), UsageError);
    CHECK_THROWS_AS((void)render_template("{{.Name", d), UsageError);
}
