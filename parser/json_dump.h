#pragma once
// The JSON form of a parse, printed by `imgbuild parse` and compared by the golden tests.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "parser/dockerfile.h"

namespace imgbuild::parser {

// One instruction's typed fields ("kind", "line", "end_line", "source", flags, arguments).
[[nodiscard]] nlohmann::json to_json(const Instruction& ins);

// The whole parse: directives, global ARGs, stages (with each instruction and, where
// expansion changes it, its "expanded" fields), the target and the stages it needs.
// Resolves every stage with an empty base-image env; throws ParseError like resolve_stage.
[[nodiscard]] nlohmann::json to_json(const ParseResult& result, const std::optional<std::string>& target);

}  // namespace imgbuild::parser
