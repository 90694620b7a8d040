#include "parser/syntax_tree.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/strings.h"
#include "parser/expand.h"
#include "parser/json_args.h"

namespace imgbuild::parser {

namespace {

// Go's unicode.IsSpace for ASCII: what separates words.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
// What separates the instruction from its arguments and whitespace-delimited arguments.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// The one quote-aware word splitter behind BuildKit's two (extractBuilderFlags and
// parseWords), which differ only in what they keep:
// - flags: leading `--...` words only (stops at the first other word, or after `--`, and
//   returns where it stopped); quotes and escapes are removed; the escape works inside
//   '...' too.
// - raw_words: every word; quotes and escapes are kept for the expansion step; nothing is
//   escaped inside '...'.
// Words split on unquoted whitespace; a quoted empty word ("") counts; an escape at the very
// end is dropped. emit(word, offset of its first character in `s`).
enum class WordScan { flags, raw_words };

template <typename Emit>
size_t scan_words(std::string_view s, size_t begin, size_t end, char esc, WordScan mode, Emit emit) {
    const bool flags = mode == WordScan::flags, keep = mode == WordScan::raw_words;
    enum { in_spaces, in_word, in_quote } phase = in_spaces;
    std::string word;
    size_t word_start = begin;
    char quote = 0;
    bool blank_ok = false;  // a quote was seen: the word counts even when empty
    for (size_t pos = begin; pos <= end; ++pos) {
        char ch = pos < end ? s[pos] : '\0';
        if (phase == in_spaces) {
            if (pos == end) break;
            if (is_space(ch)) continue;
            if (flags && (ch != '-' || pos + 1 == end || s[pos + 1] != '-')) return pos;
            phase = in_word;
            word_start = pos;
        }
        if (pos == end) {
            if (!(flags && word == "--") && (blank_ok || !word.empty())) emit(std::move(word), word_start);
            break;
        }
        if (phase == in_word) {
            if (is_space(ch)) {
                phase = in_spaces;
                if (flags && word == "--") return pos;
                if (blank_ok || !word.empty()) emit(std::move(word), word_start);
                word.clear();
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
                blank_ok = true;
                phase = in_quote;
                if (keep) word += ch;
                continue;
            }
            if (ch == esc) {
                if (pos + 1 == end) continue;
                if (keep) word += ch;
                ch = s[++pos];
            }
            word += ch;
            continue;
        }
        if (ch == quote) {
            phase = in_word;
            if (keep) word += ch;
            continue;
        }
        if (ch == esc && (flags || quote != '\'')) {  // raw words: nothing is escaped inside '...'
            if (pos + 1 == end) {
                phase = in_word;
                continue;
            }
            if (keep) word += ch;
            ch = s[++pos];
        }
        word += ch;
    }
    return end;
}

class TreeBuilder {
public:
    TreeBuilder(const SourceText& src, char esc) : src_(src), esc_(esc) {}

    Node node(LogicalLine line, int depth) {
        Node n;
        n.line = std::move(line);
        n.start_line = n.line.start_line;
        n.end_line = n.line.end_line;
        const std::string& t = n.line.text;
        size_t b = 0;
        while (b < t.size() && is_space(t[b])) ++b;
        size_t e = t.size();
        while (e > b && is_space(t[e - 1])) --e;
        size_t k = b;
        while (k < e && !is_blank(t[k])) ++k;
        n.keyword = t.substr(b, k - b);
        n.name = lower(n.keyword);
        size_t args_start = k;
        while (args_start < e && is_blank(t[args_start])) ++args_start;
        args_start = extract_flags(n, args_start, e);
        while (args_start < e && is_space(t[args_start])) ++args_start;
        n.rest = t.substr(args_start, e - args_start);
        n.rest_offset = args_start;
        split_args(n, depth);
        return n;
    }

private:
    [[noreturn]] void fail(const Node& n, size_t offset, const std::string& msg) const {
        src_.fail(n.pos_of(offset), msg);
    }

    // Leading `--name[=value]` words, like BuildKit's extractBuilderFlags: quotes are removed,
    // '\' escapes the next character, and `--` ends the flags. Returns where arguments begin.
    static size_t extract_flags(Node& n, size_t start, size_t end) {
        return scan_words(n.line.text, start, end, '\\', WordScan::flags,
                          [&](std::string word, size_t at) { n.flags.push_back({std::move(word), at}); });
    }

    // BuildKit's parseWords: splits on unquoted whitespace but keeps quotes and escapes in
    // the words; the expansion step removes them later.
    std::vector<Word> words(const std::string& s, size_t base) const {
        std::vector<Word> out;
        (void)scan_words(s, 0, s.size(), esc_, WordScan::raw_words,
                         [&](std::string word, size_t at) { out.push_back({std::move(word), base + at}); });
        return out;
    }

    static void whitespace_delimited(Node& n) {
        const std::string& s = n.rest;
        size_t i = 0;
        while (i < s.size()) {
            size_t j = i;
            while (j < s.size() && !is_blank(s[j])) ++j;
            n.args.push_back({s.substr(i, j - i), n.rest_offset + i});
            while (j < s.size() && is_blank(s[j])) ++j;
            i = j;
        }
    }

    // Exec form when the arguments are a JSON array of strings, else the shell form (one
    // argument) or, for `list`, whitespace-separated words.
    void maybe_json(Node& n, bool list) const {
        if (n.rest.empty()) return;
        JsonArgs j = parse_json_args(n.rest);
        if (j.kind == JsonArgs::Kind::not_string_array) {
            fail(n, n.rest_offset, "when using JSON array syntax, arrays must be comprised of strings only");
        }
        if (j.kind == JsonArgs::Kind::string_array) {
            n.json = true;
            for (size_t i = 0; i < j.values.size(); ++i) n.args.push_back({j.values[i], n.rest_offset + j.offsets[i]});
            return;
        }
        if (list) {
            whitespace_delimited(n);
        } else {
            n.args.push_back({n.rest, n.rest_offset});
        }
    }

    // ENV and LABEL: `KEY value...` (old form) or `K=V K2="v 2"`. Args come in triples.
    void name_value(Node& n) const {
        std::vector<Word> ws = words(n.rest, n.rest_offset);
        if (ws.empty()) return;
        std::string upper = n.name == "env" ? "ENV" : "LABEL";
        if (ws[0].value.find('=') == std::string::npos) {
            const std::string& s = n.rest;
            size_t k = 0;
            while (k < s.size() && !is_blank(s[k])) ++k;
            size_t v = k;
            while (v < s.size() && is_blank(s[v])) ++v;
            if (v >= s.size()) {
                fail(n, n.rest_offset, upper + " must have two arguments: " + upper + " " + s.substr(0, k) +
                                           "=value (or " + upper + " " + s.substr(0, k) + " value)");
            }
            n.args.push_back({s.substr(0, k), n.rest_offset});
            n.args.push_back({s.substr(v), n.rest_offset + v});
            n.args.push_back({"", n.rest_offset + k});
            return;
        }
        for (const auto& w : ws) {
            size_t eq = w.value.find('=');
            if (eq == std::string::npos) {
                fail(n, w.offset, "syntax error: can't find = in \"" + w.value + "\"; " + upper +
                                      " arguments must have the form name=value");
            }
            n.args.push_back({w.value.substr(0, eq), w.offset});
            n.args.push_back({w.value.substr(eq + 1), w.offset + eq + 1});
            n.args.push_back({"=", w.offset + eq});
        }
    }

    // HEALTHCHECK [NONE | CMD command]: the type word, then a command in either form.
    void health(Node& n) const {
        const std::string& s = n.rest;
        size_t sep = 0;
        while (sep < s.size() && !is_space(s[sep])) ++sep;
        if (sep == 0) return;
        size_t next = sep;
        while (next < s.size() && is_space(s[next])) ++next;
        n.args.push_back({s.substr(0, sep), n.rest_offset});
        std::string cmd = s.substr(next);
        if (cmd.empty()) return;
        JsonArgs j = parse_json_args(cmd);
        if (j.kind == JsonArgs::Kind::not_string_array) {
            fail(n, n.rest_offset + next, "when using JSON array syntax, arrays must be comprised of strings only");
        }
        if (j.kind == JsonArgs::Kind::string_array) {
            n.json = true;
            for (size_t i = 0; i < j.values.size(); ++i) n.args.push_back({j.values[i], n.rest_offset + next + j.offsets[i]});
        } else {
            n.args.push_back({cmd, n.rest_offset + next});
        }
    }

    void onbuild(Node& n, int depth) {
        if (n.rest.empty()) return;
        LogicalLine sub;
        sub.text = n.rest;
        sub.pos.assign(n.line.pos.begin() + static_cast<long>(std::min(n.rest_offset, n.line.pos.size())), n.line.pos.end());
        sub.start_line = n.start_line;
        sub.end_line = n.end_line;
        if (depth > 0) fail(n, 0, "ONBUILD ONBUILD isn't allowed");
        n.children.push_back(node(std::move(sub), depth + 1));
    }

    void split_args(Node& n, int depth) {
        const std::string& c = n.name;
        if (c == "add" || c == "copy" || c == "volume") {
            maybe_json(n, true);
        } else if (c == "run" || c == "cmd" || c == "entrypoint" || c == "shell") {
            maybe_json(n, false);
        } else if (c == "env" || c == "label") {
            name_value(n);
        } else if (c == "arg") {
            n.args = words(n.rest, n.rest_offset);
        } else if (c == "from" || c == "expose") {
            whitespace_delimited(n);
        } else if (c == "healthcheck") {
            health(n);
        } else if (c == "maintainer" || c == "stopsignal" || c == "user" || c == "workdir") {
            if (!n.rest.empty()) n.args.push_back({n.rest, n.rest_offset});
        } else if (c == "onbuild") {
            onbuild(n, depth);
        }
        // Anything else is an unknown instruction, reported (with a suggestion) by the
        // instruction layer; the syntax tree just keeps it.
    }

    const SourceText& src_;
    char esc_;
};

bool all_digits(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Heredoc markers among the words of a RUN/COPY/ADD line: `<<EOF`, `<<-EOF`, `<<"EOF"`,
// `3<<EOF`. BuildKit recognises a marker only as a whole word (`cat <<EOF`, not `cat<<EOF`).
void attach_heredocs(Node& n, Lexer& lexer, char esc) {
    if (n.name != "run" && n.name != "copy" && n.name != "add") return;
    const std::string& t = n.line.text;
    if (t.find("<<") == std::string::npos) return;
    size_t cursor = 0;
    for (const std::string& w : Expander(esc).split_raw(t)) {
        size_t at = t.find(w, cursor);
        if (at != std::string::npos) cursor = at + w.size();
        size_t lt = w.find("<<");
        if (lt == std::string::npos || !all_digits(std::string_view(w).substr(0, lt))) continue;
        std::string_view rest = std::string_view(w).substr(lt + 2);
        bool chomp = !rest.empty() && rest[0] == '-';
        if (chomp) rest.remove_prefix(1);
        if (rest.empty() || rest.find('<') != std::string_view::npos) continue;
        HeredocSpec h;
        h.word = w;
        h.chomp = chomp;
        h.fd = lt > 0 && lt < 10 ? std::stoi(w.substr(0, lt)) : -1;
        h.pos = n.pos_of(at == std::string::npos ? 0 : at);
        // The delimiter is the word with quotes and escapes removed; any quoting at all
        // means the body is taken literally, as in the shell.
        for (size_t i = 0; i < rest.size(); ++i) {
            char c = rest[i];
            if (c == '\'' || c == '"') {
                h.expand = false;
                continue;
            }
            if (c == esc && i + 1 < rest.size()) {
                h.expand = false;
                c = rest[++i];
            }
            h.name += c;
        }
        if (h.name.empty()) continue;
        h.body = lexer.read_heredoc(h.name, h.chomp, h.pos);
        n.heredocs.push_back(std::move(h));
    }
    n.end_line = lexer.current_line();
}

void dump_into(const Node& n, std::string& out) {
    std::string s = n.name;
    if (!n.flags.empty()) {
        s += " [";
        for (size_t i = 0; i < n.flags.size(); ++i) s += (i ? " " : "") + go_quote(n.flags[i].value);
        s += "]";
    }
    for (const auto& c : n.children) {
        std::string child;
        dump_into(c, child);
        s += " (" + child + ")";
    }
    for (const auto& a : n.args) s += " " + go_quote(a.value);
    size_t b = s.find_first_not_of(" \t\n");
    size_t e = s.find_last_not_of(" \t\n");
    out += b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

SyntaxTree parse_syntax_tree(const SourceText& source, std::string_view text) {
    Lexer lexer(source, text);
    SyntaxTree tree;
    while (auto line = lexer.next_line()) {
        char esc = lexer.directives().escape;
        Node n = TreeBuilder(source, esc).node(std::move(*line), 0);
        attach_heredocs(n, lexer, esc);
        tree.nodes.push_back(std::move(n));
    }
    tree.directives = lexer.directives();
    if (tree.nodes.empty()) source.fail({}, "the Dockerfile has no instructions (it is empty or only has comments)");
    return tree;
}

std::string dump_sexpr(const Node& node) {
    std::string out;
    dump_into(node, out);
    return out;
}

std::string dump_sexpr(const SyntaxTree& tree) {
    std::string out;
    for (const auto& n : tree.nodes) out += "(" + dump_sexpr(n) + ")\n";
    return out;
}

std::string go_quote(std::string_view s) {
    std::string out = "\"";
    char buf[16];
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '\a': out += "\\a"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\v': out += "\\v"; break;
                case '\\': out += "\\\\"; break;
                case '"': out += "\\\""; break;
                default:
                    if (c < 0x20 || c == 0x7F) {
                        out += "\\x";
                        append_hex(out, c);
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool valid = n > 0 && i + n <= s.size();
        for (size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (!valid) {
            out += "\\x";
            append_hex(out, c);
            ++i;
            continue;
        }
        uint32_t cp = c & (0xFF >> (n + 1));
        for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        // Go prints C1 controls and the non-ASCII spaces escaped; everything else as is.
        if (cp < 0xA1 || cp == 0xAD || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) {
            std::snprintf(buf, sizeof buf, "\\u%04x", cp);
            out += buf;
        } else {
            out.append(s.substr(i, n));
        }
        i += n;
    }
    return out + "\"";
}

}  // namespace imgbuild::parser
