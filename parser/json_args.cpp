#include "parser/json_args.h"

#include <cstdint>

namespace imgbuild::parser {

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

namespace {

// A strict JSON reader (RFC 8259, as Go's encoding/json reads it) that only needs to know
// whether the text is valid and, for the top-level array, which elements are strings.
class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    bool array(JsonArgs& out) {
        ws();
        if (!eat('[')) return false;
        ws();
        bool all_strings = true;
        if (eat(']')) return finish(out, all_strings);
        for (;;) {
            ws();
            if (peek() == '"') {
                size_t at = i_;
                std::string v;
                if (!string(&v)) return false;
                out.values.push_back(std::move(v));
                out.offsets.push_back(at);
            } else {
                if (!value(1)) return false;
                all_strings = false;
            }
            ws();
            if (eat(']')) return finish(out, all_strings);
            if (!eat(',')) return false;
        }
    }

private:
    static constexpr int kMaxDepth = 512;

    bool finish(JsonArgs& out, bool all_strings) {
        out.kind = all_strings ? JsonArgs::Kind::string_array : JsonArgs::Kind::not_string_array;
        if (!all_strings) {
            out.values.clear();
            out.offsets.clear();
        }
        return true;
    }
    int peek() const { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_]) : -1; }
    bool eat(char c) {
        if (peek() != static_cast<unsigned char>(c)) return false;
        ++i_;
        return true;
    }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }
    bool digits() {
        size_t start = i_;
        while (peek() >= '0' && peek() <= '9') ++i_;
        return i_ > start;
    }
    bool number() {
        eat('-');
        if (eat('0')) {
        } else if (!digits()) {
            return false;
        }
        if (eat('.') && !digits()) return false;
        if (peek() == 'e' || peek() == 'E') {
            ++i_;
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        return true;
    }
    int hex4() {
        if (i_ + 4 > s_.size()) return -1;
        int v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= c - '0';
            else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
            else return -1;
        }
        return v;
    }
    bool string(std::string* out) {
        if (!eat('"')) return false;
        for (;;) {
            int c = peek();
            if (c < 0) return false;
            ++i_;
            if (c == '"') return true;
            if (c < 0x20) return false;  // raw control characters are invalid in JSON strings
            if (c != '\\') {
                if (out) *out += static_cast<char>(c);
                continue;
            }
            int e = peek();
            if (e < 0) return false;
            ++i_;
            char simple = 0;
            switch (e) {
                case '"': simple = '"'; break;
                case '\\': simple = '\\'; break;
                case '/': simple = '/'; break;
                case 'b': simple = '\b'; break;
                case 'f': simple = '\f'; break;
                case 'n': simple = '\n'; break;
                case 'r': simple = '\r'; break;
                case 't': simple = '\t'; break;
                case 'u': {
                    int cp = hex4();
                    if (cp < 0) return false;
                    uint32_t code = static_cast<uint32_t>(cp);
                    if (code >= 0xD800 && code < 0xDC00) {
                        // A high surrogate must pair with a low one; alone it becomes U+FFFD.
                        size_t save = i_;
                        int lo = -1;
                        if (literal("\\u")) lo = hex4();
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (static_cast<uint32_t>(lo) - 0xDC00);
                        } else {
                            i_ = save;
                            code = 0xFFFD;
                        }
                    } else if (code >= 0xDC00 && code < 0xE000) {
                        code = 0xFFFD;
                    }
                    if (out) append_utf8(*out, code);
                    continue;
                }
                default:
                    return false;
            }
            if (out) *out += simple;
        }
    }
    bool value(int depth) {
        if (depth > kMaxDepth) return false;
        ws();
        int c = peek();
        if (c == '"') return string(nullptr);
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        if (c == '[') {
            ++i_;
            ws();
            if (eat(']')) return true;
            for (;;) {
                if (!value(depth + 1)) return false;
                ws();
                if (eat(']')) return true;
                if (!eat(',')) return false;
            }
        }
        if (c == '{') {
            ++i_;
            ws();
            if (eat('}')) return true;
            for (;;) {
                ws();
                if (!string(nullptr)) return false;
                ws();
                if (!eat(':')) return false;
                if (!value(depth + 1)) return false;
                ws();
                if (eat('}')) return true;
                if (!eat(',')) return false;
            }
        }
        return false;
    }

    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

JsonArgs parse_json_args(std::string_view text) {
    JsonArgs out;
    JsonReader reader(text);
    if (!reader.array(out)) return JsonArgs{};
    return out;
}

}  // namespace imgbuild::parser
