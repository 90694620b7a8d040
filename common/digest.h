#pragma once
// Content digests ("sha256:<64 lowercase hex>") and a streaming SHA-256.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace imgbuild {

// A validated digest. Only sha256 is supported; anything else (uppercase hex, wrong length,
// "sha256:../x") is rejected before it can ever become part of a path.
class Digest {
public:
    // The digest of no bytes: a valid placeholder until a real one is assigned.
    Digest() : hex_("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") {}
    // Throws UsageError naming `text` when it is not a valid sha256 digest.
    static Digest parse(std::string_view text);
    static std::optional<Digest> try_parse(std::string_view text);
    static Digest from_hex(std::string_view hex);  // validated like parse
    static Digest of(std::string_view bytes);       // sha256 of the bytes

    [[nodiscard]] const std::string& hex() const { return hex_; }
    [[nodiscard]] std::string str() const { return "sha256:" + hex_; }
    [[nodiscard]] std::string short_id() const { return hex_.substr(0, 12); }
    bool operator==(const Digest&) const = default;
    auto operator<=>(const Digest&) const = default;

private:
    explicit Digest(std::string hex) : hex_(std::move(hex)) {}
    std::string hex_;
};

[[nodiscard]] bool is_lower_hex(std::string_view s);

// Incremental SHA-256 (OpenSSL's SHA256_*, no library state or lock: safe after fork); feed
// bytes as they stream past.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    void update(const void* data, size_t len);
    void update(std::string_view s) { update(s.data(), s.size()); }
    [[nodiscard]] Digest finish();
    [[nodiscard]] uint64_t bytes() const { return bytes_; }

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
    uint64_t bytes_ = 0;
};

}  // namespace imgbuild
