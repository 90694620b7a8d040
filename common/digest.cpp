#include "common/digest.h"

#include <openssl/evp.h>

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

struct Sha256::Ctx {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(md); }
};

namespace {

// SHA-256 fetched from the provider once. EVP_sha256() makes every init fetch it again under
// the library's store lock, which stage threads of a parallel build would otherwise contend
// for on every hash. An init with a fetched digest takes no lock. Fetched before any thread
// starts (warm_up_sha256), so the static's initialisation is not raced either.
const EVP_MD* sha256_md() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

}  // namespace

void warm_up_sha256() { (void)sha256_md(); }

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    const EVP_MD* md = sha256_md();
    if (!md || !ctx_->md || EVP_DigestInit_ex(ctx_->md, md, nullptr) != 1) throw Error("sha256: cannot initialise OpenSSL digest");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t len) {
    if (len == 0) return;
    EVP_DigestUpdate(ctx_->md, data, len);
    bytes_ += len;
}

Digest Sha256::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_->md, out, &n);
    std::string hex = hex_encode(out, n);
    EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);  // reusable after finish
    bytes_ = 0;
    return Digest::from_hex(hex);
}

}  // namespace imgbuild
