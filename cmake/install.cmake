# `cmake --install`: the zcnet command, the public headers, the layer libraries, a CMake package
# (find_package(zcnet) gives zcnet::zcnet and zcnet::<layer>) and a pkg-config file (zcnet.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS zcnet_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/zcnet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/zcnet/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/zcnet)
get_property(layers GLOBAL PROPERTY ZCNET_LAYERS)
list(TRANSFORM layers PREPEND zcnet_ OUTPUT_VARIABLE layer_targets)
install(TARGETS ${layer_targets} zcnet EXPORT zcnetTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/zcnet)
install(EXPORT zcnetTargets NAMESPACE zcnet:: DESTINATION ${config_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/zcnetConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/zcnetConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/zcnetConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/zcnetConfig.cmake ${PROJECT_BINARY_DIR}/zcnetConfigVersion.cmake
        DESTINATION ${config_dir})

# pkg-config: the layers top down, so a static link resolves each one's symbols from the next.
set(ZCNET_PC_LIBS "")
list(REVERSE layers)
foreach(layer IN LISTS layers)
  string(APPEND ZCNET_PC_LIBS " -lzcnet_${layer}")
endforeach()
set(ZCNET_PC_REQUIRES "fmt")
if(NOT ZCNET_PORTABLE)
  string(APPEND ZCNET_PC_REQUIRES " liburing >= 2.3")
  set(ZCNET_PC_CFLAGS "")
else()
  set(ZCNET_PC_CFLAGS " -DZCNET_PORTABLE=1")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/zcnet.pc.in ${PROJECT_BINARY_DIR}/zcnet.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/zcnet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
