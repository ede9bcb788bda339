# zcnet_layer(NAME [DEPS layer...] [INTERNAL layer...] [LIBS target...])
#
# Builds the static library zcnet_NAME (exported as zcnet::NAME) from src/NAME/*.cpp, leaving out
# *_linux.cpp in the portable build and *_portable.cpp otherwise. Its public headers are
# include/zcnet/NAME/; its private headers src/NAME/*.hpp.
#
# Layering is enforced by include roots: each layer gets a directory of its own in the build tree
# holding only a link to its own header folder, so a file sees zcnet/<layer>/ headers only for
# the layers it links. DEPS are lower layers it uses (linked PRIVATE: nothing passes through to
# the layers above); INTERNAL are lower layers whose private src/ headers it also uses (the
# syscall wrappers). LIBS are outside libraries, linked PRIVATE; URING means liburing, left out of
# the portable build.
function(zcnet_layer name)
  cmake_parse_arguments(L "" "" "DEPS;INTERNAL;LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(ZCNET_PORTABLE)
    list(FILTER sources EXCLUDE REGEX "_linux\\.cpp$")
  else()
    list(FILTER sources EXCLUDE REGEX "_portable\\.cpp$")
  endif()

  set(root ${PROJECT_BINARY_DIR}/layers/${name})
  file(MAKE_DIRECTORY ${root}/include/zcnet ${root}/src)
  foreach(pair "include/zcnet/${name}" "src/${name}")
    if(NOT EXISTS ${root}/${pair})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${pair} ${root}/${pair} SYMBOLIC)
    endif()
  endforeach()

  set(target zcnet_${name})
  add_library(${target} STATIC ${sources})
  add_library(zcnet::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}/include>
                                              $<INSTALL_INTERFACE:include>
                                       PRIVATE ${root}/src)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>)
  if(ZCNET_PORTABLE)
    target_compile_definitions(${target} PUBLIC ZCNET_PORTABLE=1)
  endif()
  if(ZCNET_FAULTS)
    target_compile_definitions(${target} PUBLIC ZCNET_FAULTS=1)
  endif()
  if(NOT ZCNET_OBSERVE)
    target_compile_definitions(${target} PUBLIC ZCNET_OBSERVE=0)
  endif()
  foreach(dep IN LISTS L_DEPS)
    target_link_libraries(${target} PRIVATE zcnet_${dep})
  endforeach()
  foreach(dep IN LISTS L_INTERNAL)
    target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:zcnet_${dep}_internal>)
  endforeach()
  foreach(lib IN LISTS L_LIBS)
    if(lib STREQUAL "URING")
      if(NOT ZCNET_PORTABLE)
        target_link_libraries(${target} PRIVATE PkgConfig::URING)
      endif()
    else()
      target_link_libraries(${target} PRIVATE ${lib})
    endif()
  endforeach()

  # The private headers, for the layers above that name this one in INTERNAL, and for tests.
  add_library(${target}_internal INTERFACE)
  target_include_directories(${target}_internal INTERFACE ${root}/src)
  target_link_libraries(${target}_internal INTERFACE ${target})
  if(NOT ZCNET_PORTABLE AND "URING" IN_LIST L_LIBS)
    target_link_libraries(${target}_internal INTERFACE PkgConfig::URING)
  endif()

  set_property(GLOBAL APPEND PROPERTY ZCNET_LAYERS ${name})
  set_property(GLOBAL PROPERTY ZCNET_LAYER_DEPS_${name} ${L_DEPS})
  set_property(GLOBAL PROPERTY ZCNET_LAYER_INTERNAL_${name} ${L_INTERNAL})
endfunction()
