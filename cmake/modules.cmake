# One static library per module folder: every *.cpp except *_test.cpp and *_fuzz.cpp.
# Unit tests (*_test.cpp, doctest) sit next to the code they test and form one test
# binary per module, registered with CTest as unit.<module>.
function(imgbuild_module name)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "(_test|_fuzz)\\.cpp$")
  if(sources)
    add_library(imgbuild_${name} STATIC ${sources})
    target_include_directories(imgbuild_${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(imgbuild_${name} PUBLIC ${M_DEPS})
  else()
    # A module with no code yet still exists as a target so that others can depend on it.
    add_library(imgbuild_${name} INTERFACE)
    target_include_directories(imgbuild_${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(imgbuild_${name} INTERFACE ${M_DEPS})
  endif()

  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  if(tests)
    add_executable(test_${name} ${PROJECT_SOURCE_DIR}/tests/unit_main.cpp ${tests})
    target_link_libraries(test_${name} PRIVATE imgbuild_${name} doctest::doctest)
    target_compile_definitions(test_${name} PRIVATE
      IMGBUILD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    add_test(NAME unit.${name} COMMAND test_${name})
  endif()

  file(GLOB fuzzers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_fuzz.cpp)
  if(IMGBUILD_FUZZ)
    foreach(f ${fuzzers})
      get_filename_component(fname ${f} NAME_WE)
      add_executable(${fname} ${f})
      target_compile_options(${fname} PRIVATE -fsanitize=fuzzer)
      target_link_options(${fname} PRIVATE -fsanitize=fuzzer)
      target_link_libraries(${fname} PRIVATE imgbuild_${name})
    endforeach()
  endif()
endfunction()
