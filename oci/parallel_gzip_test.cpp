#include "oci/parallel_gzip.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <zstd.h>

#include <random>
#include <string>

using namespace imgbuild::oci;

namespace {
// 3.5 blocks of half random, half repetitive bytes (compressible, not trivially).
std::string sample_input() {
    std::mt19937 rng(42);
    std::string s;
    while (s.size() < kGzipBlockSize * 7 / 2) {
        for (int i = 0; i < 512; ++i) s.push_back(static_cast<char>(rng() & 0xff));
        s.append(512, 'z');
    }
    return s;
}

std::string gzip_of(const std::string& in, size_t piece) {
    std::string out;
    ParallelGzip gz([&](const char* p, size_t n) { out.append(p, n); });
    for (size_t i = 0; i < in.size(); i += piece) gz.write(in.data() + i, std::min(piece, in.size() - i));
    gz.finish();
    return out;
}

std::string gunzip(const std::string& gz) {
    archive* a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    archive_read_support_format_empty(a);
    REQUIRE(archive_read_open_memory(a, gz.data(), gz.size()) == ARCHIVE_OK);
    archive_entry* e;
    std::string back;
    if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char buf[65536];
        la_ssize_t n;
        while ((n = archive_read_data(a, buf, sizeof buf)) > 0) back.append(buf, static_cast<size_t>(n));
        REQUIRE(n == 0);
    }
    archive_read_free(a);
    return back;
}

size_t count_members(const std::string& gz) {  // gzip magic + deflate + our flags (none)
    size_t n = 0;
    for (size_t i = 0; (i = gz.find("\x1f\x8b\x08\x00", i)) != std::string::npos; ++i) ++n;
    return n;
}
}  // namespace

TEST_CASE("ParallelGzip: members in order decompress to the input, the same bytes whatever the write sizes") {
    const std::string in = sample_input();
    std::string a = gzip_of(in, 1000);
    std::string b = gzip_of(in, kGzipBlockSize * 3);
    CHECK(a == b);
    CHECK(gunzip(a) == in);
    CHECK(a.size() < in.size() * 3 / 4);
    CHECK(count_members(a) >= 4);  // 3.5 blocks: 4 members (a random byte run may add a false match)
}

TEST_CASE("ParallelGzip: an empty input is one empty member; a short one a single member") {
    std::string empty = gzip_of("", 1);
    CHECK(!empty.empty());
    CHECK(gunzip(empty).empty());
    std::string small = gzip_of("hello\n", 2);
    CHECK(count_members(small) == 1);
    CHECK(gunzip(small) == "hello\n");
}

TEST_CASE("ParallelGzip: random blocks are stored, a block with a little text in it is compressed") {
    std::mt19937_64 rng(7);
    std::string random_bytes;
    while (random_bytes.size() < kGzipBlockSize * 2) {
        uint64_t v = rng();
        random_bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    std::string stored = gzip_of(random_bytes, 65536);
    CHECK(gunzip(stored) == random_bytes);
    // Stored: the input plus a few bytes of block headers, not level 6's larger output.
    CHECK(stored.size() < random_bytes.size() + random_bytes.size() / 1000);
    // 16 KiB of text (1.5% of the first block) in the random bytes: that block is compressed.
    std::string mixed = random_bytes;
    std::string text;
    while (text.size() < 16384) text += "the quick brown fox jumps over the lazy dog; ";
    mixed.replace(300000, 16384, text.substr(0, 16384));
    std::string gz = gzip_of(mixed, 65536);
    CHECK(gunzip(gz) == mixed);
    CHECK(gz.size() < stored.size() - 12000);
}

TEST_CASE("ParallelGzip: a block mixing random runs and zeros (the W3 layer's files) stores the random runs only") {
    std::mt19937_64 rng(11);
    std::string in;
    while (in.size() < kGzipBlockSize * 2) {  // files of 40265 random bytes then 40265 zeros
        for (size_t i = 0; i < 40265; i += 8) {
            uint64_t v = rng();
            in.append(reinterpret_cast<const char*>(&v), std::min<size_t>(8, 40265 - i));
        }
        in.append(40265, '\0');
    }
    std::string a = gzip_of(in, 4096);
    CHECK(a == gzip_of(in, kGzipBlockSize + 17));  // the same bytes whatever the write sizes
    CHECK(gunzip(a) == in);
    CHECK(a.size() < in.size() / 2 + in.size() / 50);  // the random half stored, the zeros gone
    CHECK(count_members(a) > 2 * 2 * 10);              // runs of each kind: a member each
}

// CompressingWriter's zstd frames are reproducible across machines because libzstd's
// multi-threaded output does not depend on the number of workers (>= 1).
TEST_CASE("libzstd: the same frame for 1 and 3 workers") {
    const std::string in = sample_input() + sample_input();
    auto compress = [&](int workers) {
        ZSTD_CCtx* c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers);
        ZSTD_CCtx_setParameter(c, ZSTD_c_jobSize, 2 << 20);  // as CompressingWriter
        std::string out(ZSTD_compressBound(in.size()), '\0');
        ZSTD_inBuffer ib{in.data(), in.size(), 0};
        ZSTD_outBuffer ob{out.data(), out.size(), 0};
        size_t rc;
        do rc = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
        while (rc != 0 && !ZSTD_isError(rc));
        ZSTD_freeCCtx(c);
        REQUIRE(!ZSTD_isError(rc));
        out.resize(ob.pos);
        return out;
    };
    CHECK(compress(1) == compress(3));
}
