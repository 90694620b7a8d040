#include "layerstore/container_name_links.h"

#include <openssl/evp.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/strings.h"

namespace imgbuild::layerstore {
namespace {

constexpr size_t kIdBytes = 32, kHexLength = 64, kBase64urlLength = 43;

}  // namespace

bool is_container_id(std::string_view s) { return s.size() == kHexLength && is_lower_hex(s); }

std::string name_link_target(const std::string& id) {
    const std::string bytes = hex_decode(id).value_or(std::string(kIdBytes, '\0'));
    char out[4 * ((kIdBytes + 2) / 3) + 1];
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    std::string s(out, static_cast<size_t>(n));
    s.resize(kBase64urlLength);  // drops the one '=' of padding
    for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return s;
}

std::string id_of_name_link_target(std::string_view target) {
    if (is_container_id(target)) return std::string(target);
    if (target.size() != kBase64urlLength) return "";
    std::string b64(target);
    for (char& c : b64) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (c == '+' || c == '/' || c == '=') return "";  // not the url-safe alphabet
    }
    b64 += '=';
    unsigned char bytes[kIdBytes + 3];
    if (EVP_DecodeBlock(bytes, reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size())) != 33)
        return "";  // EVP_DecodeBlock counts the padding's zero byte too; -1 on a bad character
    const std::string id = hex_encode(bytes, kIdBytes);
    // One id, one spelling: a target whose last character has bits the id lacks is not ours.
    return name_link_target(id) == target ? id : "";
}

std::string read_name_link(const std::filesystem::path& link) {
    char buf[128];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return "";
    return id_of_name_link_target(std::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace imgbuild::layerstore
