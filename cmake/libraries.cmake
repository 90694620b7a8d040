# The C libraries every imgbuild command needs, as targets imgbuild::<name>.
#
# Start-up time (issue 13, docs/architecture.md): each shared library costs every command its
# loading, relocation and symbol binding, so with IMGBUILD_STATIC_DEPS (the default) these come
# from the static archives their Debian -dev packages ship, and so do libstdc++ and libgcc (g++).
# Of libcrypto.a only SHA-256 is linked (common/digest.cpp). libarchive and libcurl, which only
# a few verbs need, are dlopen()ed on first use instead (oci/libarchive_library.cpp,
# registry/curl_library.h): only their headers are looked for here.
option(IMGBUILD_STATIC_DEPS "Link libcrypto, libzstd, libdeflate, libseccomp and libstdc++ statically" ON)
if(IMGBUILD_FUZZ OR IMGBUILD_SANITIZE)
  set(IMGBUILD_STATIC_DEPS OFF)  # the sanitizer runtimes expect the shared C++ runtime
endif()
if(IMGBUILD_STATIC_DEPS)
  # Not -static-libgcc: an exception thrown through a C frame (std::call_once is pthread_once)
  # meets libc's own unwinder from the shared libgcc_s and aborts (a mixed unwinder).
  add_link_options(-static-libstdc++)
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
pkg_check_modules(LIBARCHIVE REQUIRED libarchive)   # headers only: oci/libarchive_library.cpp
