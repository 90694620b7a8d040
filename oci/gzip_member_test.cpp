#include "oci/gzip_member.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace imgbuild::oci;

namespace {
std::string random_bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s;
    while (s.size() < n) {
        uint64_t v = rng();
        s.append(reinterpret_cast<const char*>(&v), std::min(sizeof v, n - s.size()));
    }
    return s;
}
}  // namespace

TEST_CASE("incompressible_chunk: random 4 KiB chunks are, whatever the seed") {
    for (uint64_t seed = 1; seed <= 200; ++seed) CHECK(incompressible_chunk(random_bytes(kEntropyChunk, seed).data(), kEntropyChunk));
}

TEST_CASE("incompressible_chunk: text, base64, zeros, a partly random chunk and a short chunk are not") {
    std::string text;
    while (text.size() < kEntropyChunk) text += "int main(int argc, char** argv) { return argc > 1 ? 0 : 1; }\n";
    CHECK_FALSE(incompressible_chunk(text.data(), kEntropyChunk));
    // base64 of random bytes: 6 bits a byte.
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string r = random_bytes(kEntropyChunk, 3), b64;
    for (unsigned char c : r) b64.push_back(alphabet[c & 63]);
    CHECK_FALSE(incompressible_chunk(b64.data(), kEntropyChunk));
    std::string zeros(kEntropyChunk, '\0');
    CHECK_FALSE(incompressible_chunk(zeros.data(), kEntropyChunk));
    // Random but for its last 256 bytes (6%): it could shrink by ~6%, it is deflated.
    std::string mostly = random_bytes(kEntropyChunk, 4);
    mostly.replace(kEntropyChunk - 256, 256, 256, 'x');
    CHECK_FALSE(incompressible_chunk(mostly.data(), kEntropyChunk));
    // Every 8th byte random, the rest zeros: the sample sees random bytes, the full count not.
    std::string strided(kEntropyChunk, '\0');
    for (size_t i = 0; i < kEntropyChunk; i += 8) strided[i] = r[i];
    CHECK_FALSE(incompressible_chunk(strided.data(), kEntropyChunk));
    std::string short_random = random_bytes(kEntropyChunk - 1, 5);
    CHECK_FALSE(incompressible_chunk(short_random.data(), short_random.size()));
}

TEST_CASE("GzipMemberEncoder: a block reused for several inputs gives each its own members only") {
    GzipMemberEncoder enc;
    std::vector<char> out;
    std::string big = random_bytes(1 << 20, 9);
    size_t n1 = enc.encode(big, out);
    CHECK(n1 > big.size());  // stored: the input plus headers
    std::string small = "hello hello hello hello\n";
    size_t n2 = enc.encode(small, out);
    CHECK(n2 < 64);
    CHECK(out.size() >= n1);  // the buffer is kept, only the size returned counts
    CHECK(std::string(out.data(), 2) == "\x1f\x8b");
}
