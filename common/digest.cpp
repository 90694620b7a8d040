#include "common/digest.h"

// Before <openssl/sha.h>: the SHA256_* functions are deprecated in OpenSSL 3 (see Sha256::Ctx).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/error.h"
#include "common/strings.h"

namespace imgbuild {

bool is_lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::optional<Digest> Digest::try_parse(std::string_view text) {
    constexpr std::string_view prefix = "sha256:";
    if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
    auto hex = text.substr(prefix.size());
    if (hex.size() != 64 || !is_lower_hex(hex)) return std::nullopt;
    return Digest(std::string(hex));
}

Digest Digest::parse(std::string_view text) {
    if (auto d = try_parse(text)) return *d;
    throw UsageError("invalid digest \"" + std::string(text) + "\": want sha256:<64 lowercase hex digits>");
}

Digest Digest::from_hex(std::string_view hex) { return parse("sha256:" + std::string(hex)); }

Digest Digest::of(std::string_view bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

// OpenSSL's SHA-256 itself (the same SHA-NI/AVX2 code EVP ends up in), not EVP: an EVP digest
// needs the provider machinery, which links ~2 MB of libcrypto (the default provider's every
// algorithm) whose pointer tables every start-up of imgbuild had to relocate (issue 13), and
// whose fetch lock every hash of every stage thread would take.
// SHA256_Init and friends are deprecated in OpenSSL 3 but kept: see docs/architecture.md.
struct Sha256::Ctx {
    SHA256_CTX sha;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    if (SHA256_Init(&ctx_->sha) != 1) throw Error("sha256: cannot initialise OpenSSL digest");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t len) {
    if (len == 0) return;
    SHA256_Update(&ctx_->sha, data, len);
    bytes_ += len;
}

Digest Sha256::finish() {
    unsigned char out[SHA256_DIGEST_LENGTH];
    SHA256_Final(out, &ctx_->sha);
    std::string hex = hex_encode(out, SHA256_DIGEST_LENGTH);
    SHA256_Init(&ctx_->sha);  // reusable after finish
    bytes_ = 0;
    return Digest::from_hex(hex);
}

}  // namespace imgbuild
