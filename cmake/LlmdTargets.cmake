# Shared compile settings and helpers. Each component is a static library `llmd_<name>`.

add_library(llmd_options INTERFACE)
target_compile_options(llmd_options INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
# g++ 12 warns (-Wtsan) on Asio's atomic_thread_fence under -fsanitize=thread; Asio's fences are fine.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(llmd_options INTERFACE -Wno-tsan)
  # g++ 12 reports -Wmismatched-new-delete on Asio's coroutine frames at -O2, although their
  # operator new and delete match (GCC bug 109224).
  target_compile_options(llmd_options INTERFACE -Wno-mismatched-new-delete)
  # Under -fsanitize=address g++ 12 reports -Wmaybe-uninitialized inside libstdc++'s <regex> and
  # <functional> (the instrumentation defeats its flow analysis); release builds keep the warning.
  if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=[a-z,]*address")
    target_compile_options(llmd_options INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()
if(LLMD_WERROR)
  target_compile_options(llmd_options INTERFACE -Werror)
endif()
# Asio and Beast are compiled once (src/http/asio_impl.cc) instead of in every translation unit.
target_compile_definitions(llmd_options INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
target_include_directories(llmd_options INTERFACE ${CMAKE_SOURCE_DIR}/src)
# BOOST_ASSERT failures go to our handler in debug builds and vanish under NDEBUG, as before; the
# handler (src/common/boost_assert.cc) skips one assertion that Boost has since corrected.
target_compile_definitions(llmd_options INTERFACE BOOST_ENABLE_ASSERT_DEBUG_HANDLER)
add_library(llmd_boost_assert STATIC ${CMAKE_SOURCE_DIR}/src/common/boost_assert.cc)
target_link_libraries(llmd_options INTERFACE Threads::Threads llmd_boost_assert)

# llmd_library(NAME SOURCES ... DEPS ...): a component library with our warnings.
function(llmd_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_link_libraries(${name} PUBLIC llmd_options ${A_DEPS})
endfunction()

# llmd_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary registered with CTest.
function(llmd_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT LLMD_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE llmd_options ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  set(labels unit)
  if(A_LABELS)
    set(labels ${A_LABELS})
  endif()
  # Tests find the llmd binary and the source tree through tests/support (compiled-in paths,
  # overridable by $LLMD_BIN and $LLMD_SOURCE_DIR).
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "${labels}")
endfunction()

# llmd_bench(NAME SOURCES ... DEPS ...): a Google Benchmark binary (run by `make bench`).
function(llmd_bench name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT LLMD_BUILD_BENCH)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE llmd_options ${A_DEPS} benchmark::benchmark)
endfunction()

# llmd_fuzz(NAME SOURCES ... DEPS ...): a fuzz target exposing LLVMFuzzerTestOneInput.
# Under clang with LLMD_LIBFUZZER it links libFuzzer; otherwise it links a replay driver that runs
# the seed corpus plus a bounded, seeded mutation loop, and CTest runs it as a regression test.
function(llmd_fuzz name)
  cmake_parse_arguments(A "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  if(NOT LLMD_BUILD_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE llmd_options ${A_DEPS})
  if(LLMD_LIBFUZZER)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    target_link_libraries(${name} PRIVATE llmd_fuzz_driver)
    if(LLMD_BUILD_TESTS)
      set(corpus ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name})
      add_test(NAME ${name} COMMAND ${name} --iterations=20000 ${corpus})
      set_tests_properties(${name} PROPERTIES LABELS fuzz)
    endif()
  endif()
endfunction()
