# `cmake --install` puts the headers, the layer libraries, the caboose command and a CMake
# package, so that an outside project does
#
#   find_package(caboose REQUIRED)
#   target_link_libraries(app PRIVATE caboose::conductors)
#
# and CPack makes two Debian packages: caboose (the command) and caboose-dev (headers, static
# libraries, the CMake package). tests/packaging/ builds an outside project against both.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(caboose_exported core clients atoms patterns persistence engine jobs conductors)
foreach(layer ${caboose_exported})
  set_target_properties(caboose_${layer} PROPERTIES EXPORT_NAME ${layer})
endforeach()
set_target_properties(caboose_cli PROPERTIES EXPORT_NAME cli)
# Linked privately by every library: only its link options (sanitizers) travel with them.
set_target_properties(caboose_build_flags PROPERTIES EXPORT_NAME build_flags)
list(TRANSFORM caboose_exported PREPEND caboose_)

install(TARGETS ${caboose_exported} caboose_cli caboose_build_flags
  EXPORT caboose-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS caboose RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/caboose
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

set(caboose_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/caboose)
install(EXPORT caboose-targets NAMESPACE caboose:: DESTINATION ${caboose_cmake_dir}
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/caboose-config.cmake.in
  ${PROJECT_BINARY_DIR}/caboose-config.cmake INSTALL_DESTINATION ${caboose_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/caboose-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/caboose-config.cmake
  ${PROJECT_BINARY_DIR}/caboose-config-version.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindZooKeeper.cmake
  DESTINATION ${caboose_cmake_dir} COMPONENT dev)

set(CPACK_PACKAGE_NAME caboose)
set(CPACK_PACKAGE_VENDOR "caboose")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "durable task flows, jobboards and conductors (TaskFlow-compatible)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "caboose developers")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME caboose)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps (dpkg-dev) reads the binary
# Loaded with dlopen() when a PostgreSQL store or an etcd board is first used.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "libpq5, libcurl4")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME caboose-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "nlohmann-json3-dev, libfmt-dev, libspdlog-dev, libsqlite3-dev, libhiredis-dev, libzookeeper-mt-dev, libcli11-dev, pkg-config, cmake (>= 3.25)")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "libpq5, libcurl4")
include(CPack)
