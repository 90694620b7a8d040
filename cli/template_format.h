#pragma once
// The subset of Go templates that `--format` users reach for:
//   {{.A.B}}  {{json .A}}  {{index .Config.Labels "k"}}  {{len .A}}  {{join .A ","}}
//   {{range .Mounts}}{{.Destination}} {{end}}  (inside range, "." is the element)
#include <string>

#include <nlohmann/json.hpp>

namespace imgbuild::cli {

// Renders `tmpl` against `data`. Plain values print as Go prints them (strings bare, lists
// as [a b], maps as map[k:v]); `index` of a missing map key prints "<no value>". A field
// that the data does not have is a UsageError ("template: no field "Foo" in .State"), as is
// a template it does not understand.
[[nodiscard]] std::string render_template(const std::string& tmpl, const nlohmann::json& data);

}  // namespace imgbuild::cli
