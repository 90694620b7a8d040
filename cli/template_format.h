#pragma once
// The subset of Go templates that `--format` users reach for: {{.A.B}} and {{json .A}}.
#include <string>

#include <nlohmann/json.hpp>

namespace imgbuild::cli {

// Renders `tmpl` against `data`. Plain values print as Go prints them (strings bare, lists
// as [a b], maps as map[k:v]); a missing field prints "<no value>". Throws UsageError on a
// template it does not understand.
[[nodiscard]] std::string render_template(const std::string& tmpl, const nlohmann::json& data);

}  // namespace imgbuild::cli
