#include "oci/reference.h"

#include <arpa/inet.h>

#include "common/error.h"
#include "common/strings.h"

namespace imgbuild::oci {

namespace {

// Control bytes (a NUL would cut the message short) are shown as \xNN.
std::string printable(std::string_view text) {
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f) {
            out += c;
            continue;
        }
        out += "\\x";
        append_hex(out, u);
    }
    return out;
}

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
    throw UsageError("invalid reference \"" + printable(text) + "\": " + printable(why));
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    for (size_t i = 0; i < c.size();) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < c.size() && !is_lower_alnum(c[j])) ++j;
        std::string_view sep = c.substr(i, j - i);
        bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
        if (!ok) return false;
        i = j;
    }
    return true;
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128) return false;
    auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
    if (!word(t[0])) return false;
    for (char c : t)
        if (!word(c) && c != '.' && c != '-') return false;
    return true;
}

// host, host:port, [v6]:port: letters, digits, '-' and '.' (Docker's domain rule).
bool valid_domain(std::string_view d) {
    if (d.empty()) return false;
    std::string_view host = d, port;
    if (d.front() == '[') {
        auto close = d.find(']');
        if (close == std::string_view::npos) return false;
        host = d.substr(1, close - 1);
        std::string_view rest = d.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
            if (port.empty()) return false;
        }
        in6_addr a{};
        if (::inet_pton(AF_INET6, std::string(host).c_str(), &a) != 1) return false;
    } else {
        auto colon = d.find(':');
        if (colon != std::string_view::npos) {
            host = d.substr(0, colon);
            port = d.substr(colon + 1);
            if (port.empty()) return false;
        }
        // domain-component ('.' domain-component)*, each [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
        for (std::string_view comp : split(host, '.')) {
            if (comp.empty() || comp.front() == '-' || comp.back() == '-') return false;
            for (char c : comp)
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                    return false;
        }
    }
    for (char c : port)
        if (c < '0' || c > '9') return false;
    return port.size() <= 5;
}

// Docker's rule: the first component is a registry when it has a '.' or a ':', or is
// "localhost", or has an uppercase letter (which a repository never has).
bool looks_like_domain(std::string_view first) {
    if (first == "localhost") return true;
    if (first.find_first_of(".:[") != std::string_view::npos) return true;
    for (char c : first)
        if (c >= 'A' && c <= 'Z') return true;
    return false;
}

}  // namespace

Reference parse_reference(std::string_view text) {
    if (text.empty()) invalid(text, "empty");
    if (text.size() > 512) invalid(text, "longer than 512 characters");
    Reference r;
    std::string_view rest = text;
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        std::string_view d = rest.substr(at + 1);
        if (d.rfind("sha256:", 0) != 0) invalid(text, "digest \"" + std::string(d) + "\" is not sha256:<64 hex>");
        r.digest = Digest::try_parse(d);
        if (!r.digest) invalid(text, "digest \"" + std::string(d) + "\" is not sha256:<64 lowercase hex>");
        rest = rest.substr(0, at);
    }
    std::string_view name = rest;
    auto slash = rest.rfind('/');
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        std::string_view tag = rest.substr(colon + 1);
        if (!valid_tag(tag))
            invalid(text, "tag \"" + std::string(tag) + "\": use letters, digits, _ . - (at most 128, not starting with . or -)");
        r.tag = std::string(tag);
        name = rest.substr(0, colon);
    }
    if (name.empty()) invalid(text, "no repository name");
    std::string_view path = name;
    auto first_slash = name.find('/');
    if (first_slash != std::string_view::npos && looks_like_domain(name.substr(0, first_slash))) {
        std::string_view domain = name.substr(0, first_slash);
        if (!valid_domain(domain)) invalid(text, "registry \"" + std::string(domain) + "\" is not a host[:port]");
        r.registry = std::string(domain);
        path = name.substr(first_slash + 1);
    } else {
        r.registry = kDockerHub;
    }
    if (r.registry == "index.docker.io" || r.registry == "registry-1.docker.io") r.registry = kDockerHub;
    for (char c : path)
        if (c >= 'A' && c <= 'Z') invalid(text, "repository name must be lowercase");
    for (std::string_view comp : split(path, '/')) {
        if (!valid_component(comp))
            invalid(text, comp.empty() ? std::string("empty path component")
                                       : "path component \"" + std::string(comp) +
                                             "\": use a-z 0-9 separated by . _ __ or -");
    }
    if (name.size() > 255) invalid(text, "name longer than 255 characters");
    // Docker's rule (ParseNormalizedNamed): the whole text as 64 hex would be read back as an
    // image id. With a tag or a digest it is a name ("<64 hex>:v1", which local_name() gives
    // for "library/<64 hex>:v1"; found by reference_fuzz).
    if (text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos)
        invalid(text, "a repository name cannot be a 64-character hex string (that is an image id)");
    r.repository = std::string(path);
    if (r.registry == kDockerHub && r.repository.find('/') == std::string::npos) r.repository = "library/" + r.repository;
    if (r.tag.empty() && !r.digest) r.tag = "latest";
    return r;
}

std::string Reference::str() const {
    std::string s = registry + "/" + repository;
    if (!tag.empty()) s += ":" + tag;
    if (digest) s += "@" + digest->str();
    return s;
}

std::string Reference::local_name() const {
    std::string name = registry + "/" + repository;
    // Docker Hub's names drop the registry, unless the first component would then read as a
    // registry itself ("docker.io/a.b/c" stays whole; found by reference_fuzz).
    const std::string first = repository.substr(0, repository.find('/'));
    const bool first_looks_like_host = repository.find('/') != std::string::npos &&
                                       (first.find_first_of(".:") != std::string::npos || first == "localhost");
    if (registry == kDockerHub && !first_looks_like_host) {
        name = repository;
        if (name.rfind("library/", 0) == 0 && name.find('/', 8) == std::string::npos) name = name.substr(8);
    }
    if (digest) return name + "@" + digest->str();
    return name + ":" + tag;
}

}  // namespace imgbuild::oci
