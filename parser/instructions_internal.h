#pragma once
// Node -> Instruction, used by stages.cpp. Not part of the public API.
#include "parser/instructions.h"
#include "parser/syntax_tree.h"

namespace imgbuild::parser {

// Checks flags, argument counts and the syntax of every word that will be expanded later.
// Throws ParseError pointing at the offending flag or word.
[[nodiscard]] Instruction to_instruction(const Node& node, const SourceText& src, char escape);

}  // namespace imgbuild::parser
