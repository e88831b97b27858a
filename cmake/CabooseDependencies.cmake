# Debian 12 packages only; a missing one fails configure by name (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)  # nlohmann-json3-dev
find_package(fmt REQUIRED)                 # libfmt-dev
find_package(spdlog REQUIRED)              # libspdlog-dev
find_package(SQLite3 REQUIRED)             # libsqlite3-dev
find_package(PostgreSQL REQUIRED)          # libpq-dev
find_package(PkgConfig REQUIRED)           # pkg-config
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)  # libhiredis-dev
find_package(CLI11 REQUIRED)               # libcli11-dev
# libcurl4-openssl-dev: only its headers (the library is dlopen()ed, src/jobs/etcd/libcurl.h).
pkg_check_modules(CURL REQUIRED libcurl)
list(APPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_LIST_DIR})
find_package(ZooKeeper REQUIRED)           # libzookeeper-mt-dev (cmake/FindZooKeeper.cmake)
if(CABOOSE_BUILD_TESTS)
  find_package(GTest REQUIRED)             # libgtest-dev, libgmock-dev
endif()
if(CABOOSE_BUILD_BENCH)
  find_package(benchmark REQUIRED)         # libbenchmark-dev
endif()
