#pragma once
// Layer 2: logical lines -> syntax tree. One node per instruction with its flags and its
// arguments split the way the instruction's argument shape requires (a dispatch table, as in
// BuildKit's parser), heredoc bodies attached, and source positions for every piece. No
// instruction semantics here: unknown instructions and bad flags are the next layer's business.
#include <string>
#include <string_view>
#include <vector>

#include "parser/errors.h"
#include "parser/lexer.h"

namespace imgbuild::parser {

struct Word {
    std::string value;
    size_t offset = 0;  // into Node::line.text
};

struct HeredocSpec {
    std::string name;    // the delimiter, unquoted
    std::string word;    // the marker as written: "<<-'EOF'"
    std::string body;    // every line up to the delimiter, newlines included
    bool expand = true;  // false when any part of the delimiter is quoted or escaped
    bool chomp = false;  // <<- : leading tabs are stripped from the body and the delimiter
    int fd = -1;         // 3<<EOF: the file descriptor, -1 when not given
    SourcePos pos;       // where the marker is
};

struct Node {
    std::string name;     // the instruction, lowercased ("run")
    std::string keyword;  // as written ("Run")
    LogicalLine line;     // the instruction's text (BuildKit's "original") and positions
    std::vector<Word> flags;  // "--from=build", quotes and escapes already removed
    std::vector<Word> args;   // ENV/LABEL: triples (key, value, "=" or "") as in BuildKit
    std::string rest;         // the arguments after the flags, as written
    size_t rest_offset = 0;
    bool json = false;        // the arguments came from a JSON array
    std::vector<Node> children;  // ONBUILD: its trigger
    std::vector<HeredocSpec> heredocs;
    int start_line = 0;
    int end_line = 0;  // includes heredoc bodies

    [[nodiscard]] SourcePos pos() const { return line.at(0); }
    [[nodiscard]] SourcePos pos_of(size_t offset) const { return line.at(offset); }
};

struct SyntaxTree {
    Directives directives;
    std::vector<Node> nodes;
};

// Throws ParseError. An input with no instruction at all is an error.
[[nodiscard]] SyntaxTree parse_syntax_tree(const SourceText& source, std::string_view text);

// BuildKit's test dump: one s-expression per node, `(copy ["--from=a"] "x" "/y")`.
[[nodiscard]] std::string dump_sexpr(const SyntaxTree& tree);
[[nodiscard]] std::string dump_sexpr(const Node& node);
// Go's strconv.Quote, which that dump uses for every string.
[[nodiscard]] std::string go_quote(std::string_view s);

}  // namespace imgbuild::parser
