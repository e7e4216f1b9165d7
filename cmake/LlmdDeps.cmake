# Every dependency comes from a Debian 12 package installed by scripts/bootstrap.
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json url system)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
# gRPC++ and protobuf (the ext_proc server); their code generators come from the same packages.
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
pkg_check_modules(PROTOBUF REQUIRED IMPORTED_TARGET protobuf)
find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# CLI11 ships a header-only package with a CMake config in Debian 12.
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
add_library(llmd_cli11 INTERFACE)
target_include_directories(llmd_cli11 SYSTEM INTERFACE ${CLI11_INCLUDE_DIR})

# cppzmq is header-only (zmq.hpp).
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp REQUIRED)

# msgpack-cxx: Debian 12's libmsgpack-cxx-dev depends on libboost-dev (1.74), which conflicts with
# Boost 1.81, so scripts/bootstrap unpacks that same Debian package's headers into /opt/llmd-deps.
# It is header-only; MSGPACK_NO_BOOST keeps it off Boost entirely.
find_path(MSGPACK_INCLUDE_DIR msgpack.hpp PATHS /opt/llmd-deps/usr/include REQUIRED)
add_library(llmd_msgpack INTERFACE)
target_include_directories(llmd_msgpack SYSTEM INTERFACE ${MSGPACK_INCLUDE_DIR})
target_compile_definitions(llmd_msgpack INTERFACE MSGPACK_NO_BOOST)

if(LLMD_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(LLMD_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
