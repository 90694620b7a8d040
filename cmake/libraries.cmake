# The C libraries every imgbuild command needs, as targets imgbuild::<name>.
#
# Start-up time (issue 13, docs/architecture.md): each shared library costs every command its
# loading, relocation and symbol binding, so with IMGBUILD_STATIC_DEPS (the default) these come
# from the static archives their Debian -dev packages ship, and so do libstdc++ and libgcc (g++).
# Of libcrypto.a only SHA-256 is linked (common/digest.cpp). libarchive.a comes with just the
# compression libraries its tar reader and writer need (imgbuild::archive below). libcurl,
# which only the registry verbs need and which pulls in ~25 libraries, is dlopen()ed on first
# use instead (registry/curl_library.h): only its headers are looked for here.
option(IMGBUILD_STATIC_DEPS "Link libarchive, libcrypto, libzstd, libdeflate, libseccomp and libstdc++ statically" ON)
if(IMGBUILD_FUZZ OR IMGBUILD_SANITIZE)
  set(IMGBUILD_STATIC_DEPS OFF)  # the sanitizer runtimes expect the shared C++ runtime
endif()
if(IMGBUILD_STATIC_DEPS)
  # libgcc too: loading libgcc_s and its constructor (cpuid, a VM exit each) cost ~0.1 ms of
  # every start. With the static unwinder an exception must not cross a libc frame that has a
  # cleanup handler: pthread_once's personality routine comes from the libgcc_s libc loads
  # itself, which meets our unwinder's state and aborts. So no std::call_once (pthread_once)
  # around code that throws: a function-local static does the same without a C frame.
  add_link_options(-static-libstdc++ -static-libgcc)
  # libarchive.a's pax writer needs archive_write_set_format.o, whose by-name table names every
  # format writer, xar (libxml2, ICU) and 7-Zip among them: sections nothing reaches are dropped,
  # so those writers and the libraries they would need stay out of the binary.
  add_link_options(-Wl,--gc-sections)
endif()

# imgbuild_c_library(<name> <pkg-config module> <static archive>)
function(imgbuild_c_library name module archive)
  pkg_check_modules(IMGBUILD_PC_${name} REQUIRED ${module})
  add_library(imgbuild::${name} INTERFACE IMPORTED GLOBAL)
  target_include_directories(imgbuild::${name} INTERFACE ${IMGBUILD_PC_${name}_INCLUDE_DIRS})
  if(IMGBUILD_STATIC_DEPS)
    find_library(IMGBUILD_STATIC_${name} NAMES ${archive} REQUIRED)
    target_link_libraries(imgbuild::${name} INTERFACE ${IMGBUILD_STATIC_${name}} Threads::Threads ${CMAKE_DL_LIBS})
  else()
    target_link_libraries(imgbuild::${name} INTERFACE ${IMGBUILD_PC_${name}_LINK_LIBRARIES})
  endif()
endfunction()

imgbuild_c_library(crypto libcrypto libcrypto.a)       # libssl-dev
imgbuild_c_library(zstd libzstd libzstd.a)             # libzstd-dev
imgbuild_c_library(deflate libdeflate libdeflate.a)    # libdeflate-dev
imgbuild_c_library(seccomp libseccomp libseccomp.a)    # libseccomp-dev

find_package(CURL REQUIRED)                         # headers only: registry/curl_library.h

# libarchive (libarchive-dev). Static, it brings only what the code calls: the tar formats and
# the gzip, bzip2, xz and zstd filters (oci/tar_archive.cpp names them; never filter_all, which
# would add lz4, lzip and external programs), so libz, libbz2, liblzma and libzstd beside it.
# Once it was dlopen()ed on first use, as the shared library pulls in libxml2, ICU, nettle and
# acl (~2-4 ms of every build, save, load or pull); linked statically it costs nothing at start.
pkg_check_modules(IMGBUILD_PC_archive REQUIRED libarchive)
add_library(imgbuild::archive INTERFACE IMPORTED GLOBAL)
target_include_directories(imgbuild::archive INTERFACE ${IMGBUILD_PC_archive_INCLUDE_DIRS})
if(IMGBUILD_STATIC_DEPS)
  foreach(lib archive lzma bz2 z)
    find_library(IMGBUILD_STATIC_${lib} NAMES lib${lib}.a REQUIRED)
    list(APPEND IMGBUILD_ARCHIVE_LIBS ${IMGBUILD_STATIC_${lib}})
  endforeach()
  target_link_libraries(imgbuild::archive INTERFACE ${IMGBUILD_ARCHIVE_LIBS} imgbuild::zstd Threads::Threads)
else()
  target_link_libraries(imgbuild::archive INTERFACE ${IMGBUILD_PC_archive_LINK_LIBRARIES})
endif()
