// libarchive, loaded the first time a tar is read or written. Linking it made every imgbuild
// command pay ~2 ms of start-up (of a 3.5 ms total) for it and the libraries it pulls in
// (libxml2, ICU, nettle, acl, lz4, lzma, bz2), while `version`, `images`, `inspect`, `run` and
// a fully cached build never touch a tar.
//
// The code keeps calling libarchive's own API (<archive.h>, <archive_entry.h>): the functions
// it uses are defined here, once, as forwarders that dlopen libarchive.so.13 on first use
// (registry/curl_library.cpp does the same for libcurl, behind a table of its own). The
// compiler checks each forwarder against libarchive's declaration; a function not forwarded
// yet is an undefined reference at link time: add it to the list below. If the library cannot
// be loaded, the first call throws Error naming it and dlerror(). The executable is not linked
// with -rdynamic, so these definitions never interpose on libarchive's own calls.
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include "common/error.h"

// X(return type, name, parameters, arguments)
#define IMGBUILD_LIBARCHIVE_FUNCTIONS(X)                                                                  \
    X(struct archive*, archive_read_new, (), ())                                                         \
    X(int, archive_read_free, (struct archive * a), (a))                                                 \
    X(int, archive_read_support_filter_all, (struct archive * a), (a))                                   \
    X(int, archive_read_support_filter_bzip2, (struct archive * a), (a))                                 \
    X(int, archive_read_support_filter_gzip, (struct archive * a), (a))                                  \
    X(int, archive_read_support_filter_xz, (struct archive * a), (a))                                    \
    X(int, archive_read_support_filter_zstd, (struct archive * a), (a))                                  \
    X(int, archive_read_support_format_empty, (struct archive * a), (a))                                 \
    X(int, archive_read_support_format_gnutar, (struct archive * a), (a))                                \
    X(int, archive_read_support_format_raw, (struct archive * a), (a))                                   \
    X(int, archive_read_support_format_tar, (struct archive * a), (a))                                   \
    X(int, archive_read_open,                                                                            \
      (struct archive * a, void* data, archive_open_callback* o, archive_read_callback* r, archive_close_callback* c), \
      (a, data, o, r, c))                                                                                \
    X(int, archive_read_open_fd, (struct archive * a, int fd, size_t block), (a, fd, block))             \
    X(int, archive_read_open_memory, (struct archive * a, const void* buf, size_t n), (a, buf, n))       \
    X(int, archive_read_next_header, (struct archive * a, struct archive_entry** e), (a, e))             \
    X(la_ssize_t, archive_read_data, (struct archive * a, void* buf, size_t n), (a, buf, n))             \
    X(int, archive_read_data_block, (struct archive * a, const void** buf, size_t* n, la_int64_t* off),  \
      (a, buf, n, off))                                                                                  \
    X(struct archive*, archive_write_new, (), ())                                                        \
    X(int, archive_write_free, (struct archive * a), (a))                                                \
    X(int, archive_write_close, (struct archive * a), (a))                                               \
    X(int, archive_write_add_filter_bzip2, (struct archive * a), (a))                                    \
    X(int, archive_write_add_filter_gzip, (struct archive * a), (a))                                     \
    X(int, archive_write_add_filter_xz, (struct archive * a), (a))                                       \
    X(int, archive_write_add_filter_zstd, (struct archive * a), (a))                                     \
    X(int, archive_write_set_format_gnutar, (struct archive * a), (a))                                   \
    X(int, archive_write_set_format_pax_restricted, (struct archive * a), (a))                           \
    X(int, archive_write_set_bytes_in_last_block, (struct archive * a, int n), (a, n))                   \
    X(int, archive_write_set_bytes_per_block, (struct archive * a, int n), (a, n))                       \
    X(int, archive_write_open,                                                                           \
      (struct archive * a, void* data, archive_open_callback* o, archive_write_callback* w, archive_close_callback* c), \
      (a, data, o, w, c))                                                                                \
    X(int, archive_write_open_fd, (struct archive * a, int fd), (a, fd))                                 \
    X(int, archive_write_open_filename, (struct archive * a, const char* file), (a, file))               \
    X(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e))                 \
    X(la_ssize_t, archive_write_data, (struct archive * a, const void* buf, size_t n), (a, buf, n))      \
    X(int, archive_errno, (struct archive * a), (a))                                                     \
    X(const char*, archive_error_string, (struct archive * a), (a))                                      \
    X(int, archive_filter_code, (struct archive * a, int n), (a, n))                                     \
    X(int, archive_filter_count, (struct archive * a), (a))                                              \
    X(struct archive_entry*, archive_entry_new, (), ())                                                  \
    X(void, archive_entry_free, (struct archive_entry * e), (e))                                         \
    X(struct archive_entry*, archive_entry_clear, (struct archive_entry * e), (e))                       \
    X(time_t, archive_entry_atime, (struct archive_entry * e), (e))                                      \
    X(long, archive_entry_atime_nsec, (struct archive_entry * e), (e))                                   \
    X(int, archive_entry_atime_is_set, (struct archive_entry * e), (e))                                  \
    X(int, archive_entry_ctime_is_set, (struct archive_entry * e), (e))                                  \
    X(time_t, archive_entry_mtime, (struct archive_entry * e), (e))                                      \
    X(long, archive_entry_mtime_nsec, (struct archive_entry * e), (e))                                   \
    X(mode_t, archive_entry_filetype, (struct archive_entry * e), (e))                                   \
    X(mode_t, archive_entry_perm, (struct archive_entry * e), (e))                                       \
    X(la_int64_t, archive_entry_uid, (struct archive_entry * e), (e))                                    \
    X(la_int64_t, archive_entry_gid, (struct archive_entry * e), (e))                                    \
    X(const char*, archive_entry_uname, (struct archive_entry * e), (e))                                 \
    X(const char*, archive_entry_gname, (struct archive_entry * e), (e))                                 \
    X(const char*, archive_entry_pathname, (struct archive_entry * e), (e))                              \
    X(const char*, archive_entry_pathname_utf8, (struct archive_entry * e), (e))                         \
    X(const char*, archive_entry_hardlink, (struct archive_entry * e), (e))                              \
    X(const char*, archive_entry_hardlink_utf8, (struct archive_entry * e), (e))                         \
    X(const char*, archive_entry_symlink, (struct archive_entry * e), (e))                               \
    X(const char*, archive_entry_symlink_utf8, (struct archive_entry * e), (e))                          \
    X(dev_t, archive_entry_rdevmajor, (struct archive_entry * e), (e))                                   \
    X(dev_t, archive_entry_rdevminor, (struct archive_entry * e), (e))                                   \
    X(la_int64_t, archive_entry_size, (struct archive_entry * e), (e))                                   \
    X(int, archive_entry_size_is_set, (struct archive_entry * e), (e))                                   \
    X(void, archive_entry_set_filetype, (struct archive_entry * e, unsigned int t), (e, t))              \
    X(void, archive_entry_set_mode, (struct archive_entry * e, mode_t m), (e, m))                        \
    X(void, archive_entry_set_perm, (struct archive_entry * e, mode_t m), (e, m))                        \
    X(void, archive_entry_set_uid, (struct archive_entry * e, la_int64_t id), (e, id))                   \
    X(void, archive_entry_set_gid, (struct archive_entry * e, la_int64_t id), (e, id))                   \
    X(void, archive_entry_set_mtime, (struct archive_entry * e, time_t s, long ns), (e, s, ns))          \
    X(void, archive_entry_set_pathname, (struct archive_entry * e, const char* p), (e, p))               \
    X(void, archive_entry_set_hardlink, (struct archive_entry * e, const char* p), (e, p))               \
    X(void, archive_entry_set_symlink, (struct archive_entry * e, const char* p), (e, p))                \
    X(void, archive_entry_set_rdevmajor, (struct archive_entry * e, dev_t d), (e, d))                    \
    X(void, archive_entry_set_rdevminor, (struct archive_entry * e, dev_t d), (e, d))                    \
    X(void, archive_entry_set_size, (struct archive_entry * e, la_int64_t n), (e, n))                    \
    X(void, archive_entry_sparse_add_entry, (struct archive_entry * e, la_int64_t off, la_int64_t n),    \
      (e, off, n))                                                                                       \
    X(void, archive_entry_xattr_add_entry, (struct archive_entry * e, const char* k, const void* v, size_t n), \
      (e, k, v, n))                                                                                      \
    X(int, archive_entry_xattr_reset, (struct archive_entry * e), (e))                                   \
    X(int, archive_entry_xattr_next, (struct archive_entry * e, const char** k, const void** v, size_t* n), \
      (e, k, v, n))

namespace imgbuild::oci {

namespace {

constexpr const char* library_name = "libarchive.so.13";

struct Libarchive {
#define IMGBUILD_LIBARCHIVE_POINTER(ret, name, params, args) ret(*name) params = nullptr;
    IMGBUILD_LIBARCHIVE_FUNCTIONS(IMGBUILD_LIBARCHIVE_POINTER)
#undef IMGBUILD_LIBARCHIVE_POINTER
    void (*archive_set_error)(struct archive*, int, const char*, ...) = nullptr;
};

template <typename F>
void bind(void* lib, const char* name, F& out) {
    void* sym = ::dlsym(lib, name);
    if (!sym) throw Error(std::string("load ") + library_name + ": symbol " + name + " missing");
    out = reinterpret_cast<F>(sym);
}

Libarchive load() {
    void* lib = ::dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw Error(std::string("load ") + library_name + ": " + ::dlerror() + " (install libarchive13)");
    Libarchive l;
#define IMGBUILD_LIBARCHIVE_BIND(ret, name, params, args) bind(lib, #name, l.name);
    IMGBUILD_LIBARCHIVE_FUNCTIONS(IMGBUILD_LIBARCHIVE_BIND)
#undef IMGBUILD_LIBARCHIVE_BIND
    bind(lib, "archive_set_error", l.archive_set_error);
    return l;  // the library stays loaded for the life of the process
}

// Loaded once per process; a failed load throws again at the next call.
const Libarchive& libarchive() {
    static const Libarchive lib = load();
    return lib;
}

}  // namespace

}  // namespace imgbuild::oci

#define IMGBUILD_LIBARCHIVE_FORWARDER(ret, name, params, args) \
    extern "C" ret name params { return imgbuild::oci::libarchive().name args; }
IMGBUILD_LIBARCHIVE_FUNCTIONS(IMGBUILD_LIBARCHIVE_FORWARDER)
#undef IMGBUILD_LIBARCHIVE_FORWARDER

// Variadic: formatted here, passed on as one string (a null format clears the error).
extern "C" void archive_set_error(struct archive* a, int err, const char* fmt, ...) {
    if (!fmt) return imgbuild::oci::libarchive().archive_set_error(a, err, nullptr);
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    imgbuild::oci::libarchive().archive_set_error(a, err, "%s", message);
}
