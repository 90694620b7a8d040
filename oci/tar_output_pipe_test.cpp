// The tar writer's output pipe: order across small and big files and segment boundaries,
// holes, errors from either side, and the layer tar of big and small files.
#include "oci/tar_output_pipe.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <vector>
#include <random>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "oci/layer_tar.h"

using namespace imgbuild;
using namespace imgbuild::oci;
namespace stdfs = std::filesystem;

namespace {

std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

stdfs::path put(const stdfs::path& p, const std::string& content) {
    unique_fd f = open_or_throw(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_all(f.get(), content, p);
    return p;
}

}  // namespace

TEST_CASE("tar output pipe: bytes and file data reach the sink in stream order") {
    TempDir tmp(stdfs::temp_directory_path(), "pipe");
    std::string expected, got;
    {
        TarOutputPipe pipe([&](const char* p, size_t n) { got.append(p, n); });
        // Small files and files over a segment interleaved with header bytes, many more bytes
        // than the queue's bound.
        for (unsigned i = 0; i < 150; ++i) {
            std::string header = "header " + std::to_string(i) + "\n";
            pipe.write(header.data(), header.size());
            expected += header;
            size_t size = i % 3 == 0 ? 100 + i : (TarOutputPipe::kSegmentBytes / 2 + 4096 * i);
            std::string data = random_bytes(size, i);
            stdfs::path f = put(tmp.path() / ("f" + std::to_string(i)), data);
            pipe.file_data(open_or_throw(f, O_RDONLY), data.size(), i % 2 == 0, f.string());
            expected += data;
        }
        pipe.write("end", 3);
        expected += "end";
        pipe.finish();
    }
    CHECK(got.size() == expected.size());
    CHECK(got == expected);
}

TEST_CASE("tar output pipe: a stream that fits in memory never needs the thread, and works the same") {
    std::string got;
    TarOutputPipe pipe([&](const char* p, size_t n) { got.append(p, n); });
    pipe.write("abc", 3);
    pipe.finish();
    CHECK(got == "abc");
}

TEST_CASE("tar output pipe: holes of a big file come out as zeros") {
    TempDir tmp(stdfs::temp_directory_path(), "pipe");
    stdfs::path f = tmp.path() / "sparse";
    const off_t size = 8 << 20;
    {
        unique_fd out = open_or_throw(f, O_WRONLY | O_CREAT, 0644);
        REQUIRE(::pwrite(out.get(), "mid", 3, size / 2) == 3);
        REQUIRE(::ftruncate(out.get(), size) == 0);
    }
    std::string got;
    TarOutputPipe pipe([&](const char* p, size_t n) { got.append(p, n); });
    pipe.file_data(open_or_throw(f, O_RDONLY), static_cast<uint64_t>(size), true, f.string());
    pipe.finish();
    std::string expected(static_cast<size_t>(size), '\0');
    expected.replace(static_cast<size_t>(size / 2), 3, "mid");
    CHECK(got == expected);
}

TEST_CASE("tar output pipe: a file that shrank, or a failing sink, is an error for the writer") {
    TempDir tmp(stdfs::temp_directory_path(), "pipe");
    stdfs::path f = put(tmp.path() / "f", random_bytes(1 << 20, 7));
    SUBCASE("shrank") {
        bool holes = false;
        SUBCASE("read through") { holes = false; }
        SUBCASE("holes looked for") { holes = true; }
        TarOutputPipe pipe([](const char*, size_t) {});
        std::string err;
        try {
            pipe.file_data(open_or_throw(f, O_RDONLY), 2 << 20, holes, f.string());  // claims more than it has
            pipe.finish();
        } catch (const Error& e) {
            err = e.what();
        }
        CHECK(err.find(f.string() + " shrank") != std::string::npos);
    }
    SUBCASE("a read error") {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        unique_fd w(fds[1]);
        TarOutputPipe pipe([](const char*, size_t) {});
        std::string err;
        try {
            pipe.file_data(unique_fd(fds[0]), 1 << 20, true, "the-pipe");  // cannot seek
            pipe.finish();
        } catch (const Error& e) {
            err = e.what();
        }
        CHECK(err.find("the-pipe") != std::string::npos);
    }
    SUBCASE("the sink fails: a later call or finish() rethrows it, the rest is dropped") {
        size_t calls = 0;
        TarOutputPipe pipe([&](const char*, size_t) {
            ++calls;
            throw Error("disk full");
        });
        std::string err;
        try {
            for (int i = 0; i < 200; ++i) pipe.file_data(open_or_throw(f, O_RDONLY), 1 << 20, false, f.string());
            pipe.finish();
        } catch (const Error& e) {
            err = e.what();
        }
        CHECK(err == "disk full");
        CHECK(calls == 1);
    }
    SUBCASE("given up without finish(): the destructor stops the consumer") {
        TarOutputPipe pipe([](const char*, size_t) {});
        for (int i = 0; i < 10; ++i) pipe.file_data(open_or_throw(f, O_RDONLY), 1 << 20, false, f.string());
    }
}

TEST_CASE("write: big files and small ones round-trip, diffID = sha256 of the tar") {
    TempDir tmp(stdfs::temp_directory_path(), "pipe");
    stdfs::path dir = tmp.path() / "layer";
    stdfs::create_directories(dir / "d");
    std::vector<std::pair<std::string, std::string>> files;
    for (unsigned i = 0; i < 40; ++i) {
        std::string name = (i % 2 ? "d/f" : "f") + std::to_string(i);
        std::string data = random_bytes(i % 4 == 0 ? 10 * i : (300 << 10) + i, i);
        put(dir / name, data);
        files.emplace_back(name, data);
    }
    stdfs::path tar = tmp.path() / "out.tar";
    LayerDigests d;
    {
        unique_fd out = open_or_throw(tar, O_RDWR | O_CREAT | O_TRUNC, 0644);
        d = write_layer_tar(dir, out.get(), TarWriteOptions{Compression::none, 0});
        REQUIRE(::lseek(out.get(), 0, SEEK_SET) == 0);
        CHECK(hash_to_end(out.get(), tar) == d.diff_id);
    }
    CHECK(write_layer_tar(dir, -1, TarWriteOptions{Compression::none, 0}).diff_id == d.diff_id);
    archive* a = archive_read_new();
    archive_read_support_format_tar(a);
    REQUIRE(archive_read_open_filename(a, tar.c_str(), 1 << 16) == ARCHIVE_OK);
    std::map<std::string, std::string> seen;
    archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        std::string content(static_cast<size_t>(archive_entry_size(e)), '\0');
        CHECK(archive_read_data(a, content.data(), content.size()) == static_cast<la_ssize_t>(content.size()));
        seen[archive_entry_pathname(e)] = content;
    }
    archive_read_free(a);
    CHECK(seen.size() == files.size());
    for (const auto& file : files) CHECK(seen[file.first] == file.second);
}
